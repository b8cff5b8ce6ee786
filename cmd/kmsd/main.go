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
	"time"

	"github.com/kmsd/kmsd/cmd/internal/devpki"
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

// commonFlags are shared by dev and serve.
type commonFlags struct {
	dataDir, nodeID, kmipAddr, raftAddr string
	maxMessageSize                      int
	logLevel, logFormat                 string
	snapshotThreshold                   uint64
	snapshotInterval                    time.Duration
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultDataDir string) {
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "folder for all node state (raft log, snapshots, node key)")
	fs.StringVar(&c.nodeID, "node-id", "", "unique node id (default: the raft address)")
	fs.StringVar(&c.kmipAddr, "kmip-addr", "127.0.0.1:5696", "KMIP listen address (mutual TLS)")
	fs.StringVar(&c.raftAddr, "raft-addr", "127.0.0.1:5698", "raft listen and advertise address")
	fs.IntVar(&c.maxMessageSize, "max-message-size", 1<<20, "largest KMIP request accepted, in bytes")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.Uint64Var(&c.snapshotThreshold, "snapshot-threshold", 8192, "log entries between raft snapshots")
	fs.DurationVar(&c.snapshotInterval, "snapshot-interval", 2*time.Minute, "how often raft checks whether to snapshot")
}

func (c *commonFlags) config() config {
	return config{
		DataDir: c.dataDir, NodeID: c.nodeID, KMIPAddr: c.kmipAddr, RaftAddr: c.raftAddr,
		MaxMessageSize:    c.maxMessageSize,
		SnapshotThreshold: c.snapshotThreshold,
		SnapshotInterval:  c.snapshotInterval,
	}
}

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs, "")
	var certFile, keyFile, caFile string
	var bootstrap bool
	fs.StringVar(&certFile, "tls-cert", "", "server certificate (PEM)")
	fs.StringVar(&keyFile, "tls-key", "", "server private key (PEM)")
	fs.StringVar(&caFile, "client-ca", "", "CA bundle that client certificates must chain to (PEM)")
	fs.BoolVar(&bootstrap, "bootstrap", false, "form a new single-voter cluster if this node has no state yet")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.dataDir == "" || certFile == "" || keyFile == "" || caFile == "" {
		return errors.New("serve needs -data-dir, -tls-cert, -tls-key and -client-ca")
	}
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	tlsCfg, err := devpki.ServerTLS(devpki.Paths{CACert: caFile, ServerCert: certFile, ServerKey: keyFile})
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.TLS, cfg.Bootstrap = tlsCfg, bootstrap
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return n.wait(ctx)
}
