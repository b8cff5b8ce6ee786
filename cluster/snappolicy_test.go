package cluster_test

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/clustertest"
)

func snapshots(t *testing.T, n *clustertest.Node) []*raft.SnapshotMeta {
	t.Helper()
	store, err := raft.NewFileSnapshotStore(filepath.Join(n.Dir, "raft"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	return metas
}

// A node that stops after many writes snapshots first, so that its next
// start loads the snapshot instead of replaying every entry; after a few
// writes it does not bother.
func TestShutdownSnapshotsAfterManyWrites(t *testing.T) {
	for _, tt := range []struct {
		writes   int
		snapshot bool
	}{{100, false}, {1500, true}} {
		t.Run(fmt.Sprint(tt.writes), func(t *testing.T) {
			c := clustertest.New(t)
			n := c.Start()
			c.Leader()
			for i := range tt.writes {
				apply(t, n, fmt.Sprintf("k%d=v%d", i, i))
			}
			n.Stop()
			metas := snapshots(t, n)
			if got := len(metas) > 0; got != tt.snapshot {
				t.Fatalf("after %d writes: %d snapshots, want a snapshot: %v", tt.writes, len(metas), tt.snapshot)
			}
			if tt.snapshot && metas[0].Index < uint64(tt.writes) {
				t.Fatalf("snapshot at index %d, want at least %d", metas[0].Index, tt.writes)
			}
			n.Restart(t)
			c.Leader()
			// A write returns once it is applied here, after every entry
			// before it.
			apply(t, n, "probe=1")
			if v, ok := n.KV.Get(fmt.Sprintf("k%d", tt.writes-1)); !ok || v != fmt.Sprintf("v%d", tt.writes-1) {
				t.Fatalf("after restart: last key = %q, %v", v, ok)
			}
		})
	}
}

// A node whose raft records an older snapshot index than its newest
// snapshot (hashicorp/raft issue 248: a periodic snapshot that finishes
// after a snapshot install) takes a new snapshot, so that as a leader it
// can replicate to a node that has just installed the newest one. The
// test writes a snapshot behind raft's back to create that state.
func TestSnapshotIndexRepaired(t *testing.T) {
	c := clustertest.New(t)
	n := c.Start()
	c.Leader()
	for i := range 30 {
		apply(t, n, fmt.Sprintf("k%d=v%d", i, i))
	}
	if got := n.Node.Stats()["last_snapshot_index"]; got != "0" {
		t.Fatalf("the test needs a node without a snapshot; last_snapshot_index %s", got)
	}
	store, err := raft.NewFileSnapshotStore(filepath.Join(n.Dir, "raft"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, 20, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("installed")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		last, _ := strconv.ParseUint(n.Node.Stats()["last_snapshot_index"], 10, 64)
		if last >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raft's snapshot index is still %d, behind the newest snapshot at 20 and the 30 entries applied", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUnfinishedSnapshotsRemoved leaves the folder of a snapshot whose
// writer was killed before it completed, as an interrupted install does,
// and restarts the node: the folder is gone and the complete snapshot and
// the log still serve every entry. raft's store only warns about such
// folders, and a node that kept them ran out of disk after a few
// interrupted installs of a large state.
func TestUnfinishedSnapshotsRemoved(t *testing.T) {
	c := clustertest.New(t)
	n := c.Start()
	c.Leader()
	for i := range 20 {
		apply(t, n, fmt.Sprintf("k%d=v%d", i, i))
	}
	if err := n.Node.TakeSnapshot(); err != nil {
		t.Fatal(err)
	}
	n.Stop()
	raftDir := filepath.Join(n.Dir, "raft")
	store, err := raft.NewFileSnapshotStore(raftDir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, 500, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(bytes.Repeat([]byte{7}, 1<<20)); err != nil {
		t.Fatal(err)
	}
	unfinished, _ := filepath.Glob(filepath.Join(raftDir, "snapshots", "*.tmp"))
	if len(unfinished) != 1 {
		t.Fatalf("the test needs one unfinished snapshot, found %v", unfinished)
	}
	n.Restart(t)
	c.Leader()
	if left, _ := filepath.Glob(filepath.Join(raftDir, "snapshots", "*.tmp")); len(left) != 0 {
		t.Errorf("unfinished snapshots left after the restart: %v", left)
	}
	apply(t, n, "after=restart")
	for i := range 20 {
		if got, _ := n.KV.Get(fmt.Sprintf("k%d", i)); got != fmt.Sprintf("v%d", i) {
			t.Fatalf("k%d = %q after the restart", i, got)
		}
	}
}
