package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// TestCheckDevRaftState: the Raft state of a dev node from before node
// certificates (no node-1 certificate yet) is refused with a message; a
// fresh folder and one whose node-1 certificate exists are not.
func TestCheckDevRaftState(t *testing.T) {
	dir := t.TempDir()
	p, err := devpki.Ensure(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDevRaftState(dir, p); err != nil {
		t.Fatalf("fresh folder: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raft", "raft.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = checkDevRaftState(dir, p)
	if err == nil || !strings.Contains(err.Error(), "new --data-dir") {
		t.Fatalf("Raft state without a node certificate: %v", err)
	}
	if _, _, err := devpki.EnsureNode(p, devNodeID); err != nil {
		t.Fatal(err)
	}
	if err := checkDevRaftState(dir, p); err != nil {
		t.Fatalf("with node-1's certificate: %v", err)
	}
}
