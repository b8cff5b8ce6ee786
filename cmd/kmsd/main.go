// Command kmsd is a clustered KMIP key management server.
//
//	kmsd dev   [flags]   a single node with a generated development PKI
//	kmsd serve [flags]   a node with your certificates
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kmsd/kmsd/cluster/devpki"
)

var version = "dev"

func main() {
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
		return runServe(ctx, args[1:], stderr)
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

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs, "")
	var certFile, keyFile, caFile, nodeCert, nodeKey, nodeCA, gossipKeyFile string
	var bootstrap bool
	fs.StringVar(&certFile, "tls-cert", "", "KMIP server certificate (PEM)")
	fs.StringVar(&keyFile, "tls-key", "", "KMIP server private key (PEM)")
	fs.StringVar(&caFile, "client-ca", "", "CA bundle that KMIP client certificates must chain to (PEM)")
	fs.StringVar(&nodeCert, "node-cert", "", "node certificate for Raft, gossip and gRPC, Organization kmsd-nodes (default: -tls-cert)")
	fs.StringVar(&nodeKey, "node-key", "", "node private key (default: -tls-key)")
	fs.StringVar(&nodeCA, "node-ca", "", "CA bundle for node and admin certificates (default: -client-ca)")
	fs.StringVar(&gossipKeyFile, "gossip-key-file", "", "file holding the 32-byte gossip key shared by all nodes")
	fs.BoolVar(&bootstrap, "bootstrap", false, "form a new single-voter cluster if this node has no state yet")
	if err := parseWithConfig(fs, args, &c.configFile); err != nil {
		return err
	}
	if c.dataDir == "" || certFile == "" || keyFile == "" || caFile == "" {
		return errors.New("serve needs -data-dir, -tls-cert, -tls-key and -client-ca")
	}
	nodeCert, nodeKey, nodeCA = orDefault(nodeCert, certFile), orDefault(nodeKey, keyFile), orDefault(nodeCA, caFile)
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.Bootstrap = bootstrap
	if err := loadTLS(&cfg, devpki.Paths{CACert: caFile, ServerCert: certFile, ServerKey: keyFile},
		devpki.Paths{CACert: nodeCA, ServerCert: nodeCert, ServerKey: nodeKey}); err != nil {
		return err
	}
	if cfg.GossipAddr != "" {
		if gossipKeyFile == "" {
			return errors.New("gossip needs -gossip-key-file (or -gossip-addr \"\" to disable gossip)")
		}
		if cfg.GossipKey, err = readGossipKey(gossipKeyFile); err != nil {
			return err
		}
	}
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return n.wait(ctx)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// loadTLS builds the KMIP listener's TLS and the node TLS (Raft, gossip
// joins, gRPC) from PEM files.
func loadTLS(cfg *config, kmipFiles, nodeFiles devpki.Paths) error {
	var err error
	if cfg.KMIPTLS, err = devpki.ServerTLS(kmipFiles); err != nil {
		return fmt.Errorf("KMIP TLS: %w", err)
	}
	if cfg.NodeServerTLS, err = devpki.ServerTLS(nodeFiles); err != nil {
		return fmt.Errorf("node TLS: %w", err)
	}
	if cfg.NodeClientTLS, err = devpki.ClientTLS(nodeFiles.CACert, nodeFiles.ServerCert, nodeFiles.ServerKey); err != nil {
		return fmt.Errorf("node TLS: %w", err)
	}
	return nil
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
