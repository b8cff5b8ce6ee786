package main

import (
	"path/filepath"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// startRealKMS serves the real KMIP service (its state machine behind a
// single-node replicator, kmip/kmiptest) over mutual TLS with a fresh dev
// PKI, and returns the connection flags for kmsctl.
func startRealKMS(t *testing.T) []string {
	t.Helper()
	devDir := t.TempDir()
	p, err := devpki.Ensure(filepath.Join(devDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := devpki.ServerTLS(p)
	if err != nil {
		t.Fatal(err)
	}
	srv := kmiptest.StartServer(t, kmiptest.New(t), kmip.ServerConfig{TLS: cfg})
	return []string{"--server", srv.Addr, "--dev-dir", devDir}
}

func TestRealKMSSmoke(t *testing.T) {
	clearEnv(t)
	conn := startRealKMS(t)
	id := ok(t, conn, "key", "create", "--name", "smoke")
	ok(t, conn, "key", "attributes", id[:len(id)-1])
}
