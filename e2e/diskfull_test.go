package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// diskSize is the tmpfs the full node's data folder lives on.
const diskSize = 24 << 20

// TestDiskFullLeader: the leader of three nodes has its data folder on a
// small tmpfs, which a filler file then fills while clients write through
// the two other nodes. The cluster must go on accepting writes (leadership
// moves away from the node that cannot write its log), the full node must
// not crash, and its log must say that the disk is full. Once the filler is
// removed the node catches up, and every acknowledged key reads back
// through it with the acknowledged material and attributes.
func TestDiskFullLeader(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart(),
		harness.WithArgs("--snapshot-threshold", "64", "--snapshot-interval", "200ms"))
	const full = 2
	n := c.Nodes[full]
	n.Stop()
	if err := harness.MountTmpfs(t, n.Dir, diskSize); err != nil {
		t.Skipf("this test mounts a tmpfs, which needs root: %v", err)
	}
	n.Restart(t)
	c.WaitDigestsEqual(t)
	if _, err := c.AdminCtl(t, 0, "cluster", "transfer-leader", c.ID(full)); err != nil {
		t.Fatal(err)
	}
	if l := c.Leader(t); l != full {
		t.Fatalf("%s leads after the transfer to %s", c.Nodes[l].Name, n.Name)
	}

	led := newLedger()
	w := startWriters(t, led, n, 4, c.Nodes[0].KMIPAddr, c.Nodes[1].KMIPAddr)
	led.waitAcks(t, 40, w.errs)
	// Writes in flight when the disk fills may fail; the ledger only
	// holds what was acknowledged.
	w.expectF.Store(true)
	filler := filepath.Join(n.Dir, "filler")
	wrote, err := harness.FillDisk(filler)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filler: %d bytes; the tmpfs is full", wrote)
	// Progress while the disk is full.
	led.waitAcks(t, 200, nil)
	w.halt()
	if l := c.Leader(t); l == full {
		t.Errorf("%s still leads with a full disk", n.Name)
	}
	if !slices.Contains(c.Running(), full) {
		t.Fatalf("%s exited with a full disk", n.Name)
	}
	if !bytes.Contains(n.Output(), []byte("no space left on device")) {
		t.Errorf("%s never said that its disk is full", n.Name)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w = startWriters(t, led, n, 2, c.Nodes[0].KMIPAddr, c.Nodes[1].KMIPAddr)
	led.waitAcks(t, 40, w.errs)
	w.halt()
	c.WaitDigestsEqual(t)
	for i := range c.Nodes {
		cl, err := dialAddr(t.Context(), n, c.Nodes[i].KMIPAddr)
		if err != nil {
			t.Fatal(err)
		}
		led.verify(t, cl, c.Nodes[i].Name)
		closeClient(cl)
	}
	keys, acks := led.count()
	t.Logf("%d keys, %d acknowledged writes, all served by every node", keys, acks)
	n.Stop() // before the tmpfs goes; fails the test on a bad exit status
}
