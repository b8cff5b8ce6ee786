package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/kmsd/kmsd/cmd/internal/devpki"
)

// runDev starts a single node with a development PKI under the data dir.
// Restarting with the same folder reuses the certificates and the store.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs, "kmsd-data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
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
	tlsCfg, err := devpki.ServerTLS(pki)
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.TLS, cfg.Bootstrap = tlsCfg, true
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	printDevBanner(stdout, dataDir, n.listener.Addr().String(), pki)
	return n.wait(ctx)
}

func printDevBanner(w io.Writer, dataDir, kmipAddr string, pki devpki.Paths) {
	fmt.Fprintf(w, `kmsd dev: single-node KMS ready (press Ctrl-C to stop)
  data dir     %s
  KMIP (mTLS)  %s
  CA           %s
  client cert  %s
  client key   %s

Try it:
  go run ./cmd/kmsctl --server %s --dev-dir %s key create --alg AES --length 256 --name demo
`, dataDir, kmipAddr, pki.CACert, pki.ClientCert, pki.ClientKey, kmipAddr, dataDir)
}
