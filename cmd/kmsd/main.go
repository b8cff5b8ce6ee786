// Command kmsd is a clustered KMIP key management server.
//
//	kmsd dev   [flags]   a single node with a generated development PKI
//	kmsd serve [flags]   a node with your certificates
//	kmsd init  [flags]   create the root key of a new cluster
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

var version = "dev"

func main() {
	if err := disableCoreDumps(); err != nil {
		fmt.Fprintln(os.Stderr, "kmsd: cannot disable core dumps:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "kmsd:", err)
		}
		os.Exit(1)
	}
}

const usage = `kmsd is a clustered KMIP key management server.

Usage:
  kmsd dev   [flags]   start a single node with a generated development PKI
  kmsd serve [flags]   start a node with your own certificates
  kmsd init  [flags]   create the root key of a new cluster (before its first serve --bootstrap)
  kmsd version

Run "kmsd <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "init":
		return runInit(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "kmsd", version)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s serveFlags
	s.register(fs)
	if err := parseWithConfig(fs, args, &s.configFile); err != nil {
		return err
	}
	c, files := s.commonFlags, s.files
	var missing []string
	if c.dataDir == "" {
		missing = append(missing, "--data-dir")
	}
	if c.joinTokenFile != "" {
		if _, err := readSecretFile(c.joinTokenFile); err != nil {
			return fmt.Errorf("--join-token-file: %w", err)
		}
	}
	if missing = append(missing, files.missing()...); len(missing) > 0 {
		return fmt.Errorf("serve needs %s: the KMIP server certificate, and a CA for each of KMIP clients, operators and nodes "+
			"with this node's certificate from the node CA (see kmsd serve -h; kmsd dev makes a development PKI)", strings.Join(missing, ", "))
	}
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.Bootstrap = s.bootstrap
	cfg.AuditStdout = stdout
	if cfg.Seal, err = s.seal.options(!fileExists(filepath.Join(cfg.DataDir, "seal.json"))); err != nil {
		return err
	}
	if err := s.seal.unsealInputs(&cfg); err != nil {
		return err
	}
	if err := loadTLS(&cfg, files, logger); err != nil {
		return err
	}
	if cfg.GossipAddr != "" {
		if s.gossipKeyFile == "" {
			return errors.New("gossip needs -gossip-key-file (or -gossip-addr \"\" to disable gossip)")
		}
		if cfg.GossipKey, err = readGossipKey(s.gossipKeyFile); err != nil {
			return err
		}
	}
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	reloadOnSIGHUP(ctx, cfg.TLS)
	return n.wait(ctx)
}

func readGossipKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("gossip key %s has mode %v, want 0600", path, st.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("gossip key %s holds %d bytes, want 32", path, len(key))
	}
	return key, nil
}
