package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// runDev starts a single node, or a local cluster of -nodes processes, with a
// development PKI under the data dir. Running it again with the same folder
// reuses the certificates and the stores.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs, "kmsd-data")
	nodes := fs.Int("nodes", 1, "number of nodes: 1 runs in this process, more start one kmsd process each on loopback")
	if err := parseWithConfig(fs, args, &c.configFile); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 9 {
		return fmt.Errorf("-nodes must be between 1 and 9")
	}
	dataDir, err := filepath.Abs(c.dataDir)
	if err != nil {
		return err
	}
	c.dataDir = dataDir
	host, _, err := net.SplitHostPort(c.kmipAddr)
	if err != nil {
		return fmt.Errorf("kmip-addr: %w", err)
	}
	pki, err := devpki.Ensure(filepath.Join(dataDir, "pki"), host)
	if err != nil {
		return fmt.Errorf("development PKI: %w", err)
	}
	if *nodes > 1 {
		return runDevCluster(ctx, c, *nodes, pki, stdout, stderr)
	}
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.Bootstrap = true
	if err := loadTLS(&cfg, pki, pki); err != nil {
		return err
	}
	if cfg.GossipAddr != "" {
		if cfg.GossipKey, err = os.ReadFile(pki.GossipKey); err != nil {
			return err
		}
	}
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	printDevBanner(stdout, dataDir, n.kmipAddr, n.grpcLn.Addr().String(), pki)
	return n.wait(ctx)
}

func printDevBanner(w io.Writer, dataDir, kmipAddr, adminAddr string, pki devpki.Paths) {
	fmt.Fprintf(w, `kmsd dev: single-node KMS ready (press Ctrl-C to stop)
  data dir     %s
  KMIP (mTLS)  %s
  admin (gRPC) %s
  CA           %s
  client cert  %s
  client key   %s

Try it:
  go run ./cmd/kmsctl --server %s --dev-dir %s key create --alg AES --length 256 --name demo
  go run ./cmd/kmsctl --admin %s --dev-dir %s status
`, dataDir, kmipAddr, adminAddr, pki.CACert, pki.ClientCert, pki.ClientKey, kmipAddr, dataDir, adminAddr, dataDir)
}
