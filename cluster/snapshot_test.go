package cluster_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
	"github.com/kmsd/kmsd/cluster/seal"
)

func oneNode(t *testing.T) *clustertest.Cluster {
	c := clustertest.New(t)
	c.Start()
	c.Leader()
	return c
}

func ctx10s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func save(t *testing.T, n *clustertest.Node) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := n.Node.Snapshot(ctx10s(t), &buf); err != nil {
		t.Fatalf("%s: Snapshot: %v", n.ID, err)
	}
	return buf.Bytes()
}

func restore(t *testing.T, n *clustertest.Node, file []byte, force bool) error {
	t.Helper()
	return n.Node.Restore(ctx10s(t), bytes.NewReader(file), force)
}

func inspect(t *testing.T, n *clustertest.Node, file []byte) cluster.SnapshotInfo {
	t.Helper()
	info, err := n.Node.InspectSnapshot(ctx10s(t), bytes.NewReader(file))
	if err != nil {
		t.Fatalf("%s: InspectSnapshot: %v", n.ID, err)
	}
	return info
}

// digest waits until every running node has applied what the cluster
// committed and returns their common state digest.
func digest(t *testing.T, c *clustertest.Cluster) [32]byte {
	t.Helper()
	var first [32]byte
	for i, n := range c.Nodes {
		if err := n.Node.ReadBarrier(ctx10s(t)); err != nil {
			t.Fatalf("%s: ReadBarrier: %v", n.ID, err)
		}
		d, err := n.KV.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d
		} else if d != first {
			t.Fatalf("%s's state differs from %s's", n.ID, c.Nodes[0].ID)
		}
	}
	return first
}

func header(t *testing.T, file []byte) cluster.SnapshotHeader {
	t.Helper()
	h, err := cluster.ReadSnapshotHeader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("ReadSnapshotHeader: %v", err)
	}
	return h
}

// TestSnapshotSaveRestore: a snapshot of the current state restores as it
// is; after a later write it is older and needs force, which rolls every
// node back to it.
func TestSnapshotSaveRestore(t *testing.T) {
	c := threeNodes(t)
	apply(t, c.Leader(), "x=1")
	apply(t, c.Leader(), "y=2")
	saved := digest(t, c)
	file := save(t, c.Follower())

	h := header(t, file)
	leader := c.Leader()
	if h.Format != 1 || h.ClusterID != leader.Cfg.Barrier.ClusterID() || h.Index != leader.KV.AppliedIndex() ||
		len(h.KeyVersions) != 0 || time.Since(h.Created) > time.Minute {
		t.Errorf("header %+v; want format 1, cluster %s, index %d, no key versions, created now",
			h, leader.Cfg.Barrier.ClusterID(), leader.KV.AppliedIndex())
	}
	if term := leader.Node.Stats()["term"]; h.Term == 0 || fmt.Sprint(h.Term) != term {
		t.Errorf("header term %d, want the term %s in which the last command was written", h.Term, term)
	}
	info := inspect(t, c.Follower(), file)
	if !info.MACValid || !info.SameCluster || info.CurrentIndex != h.Index || info.Refusal != "" || info.Size != int64(len(file)) {
		t.Errorf("inspect a current snapshot = %+v", info)
	}
	if err := restore(t, leader, file, false); err != nil {
		t.Fatalf("restore a snapshot of the current state: %v", err)
	}
	if d := digest(t, c); d != saved {
		t.Error("restoring the current state changed it")
	}

	apply(t, c.Leader(), "z=3")
	later := digest(t, c)
	err := restore(t, c.Leader(), file, false)
	if !errors.Is(err, cluster.ErrOldSnapshot) || !strings.Contains(err.Error(), "Set force to roll back anyway") {
		t.Fatalf("restore an older snapshot = %v, want ErrOldSnapshot naming force", err)
	}
	if d := digest(t, c); d != later {
		t.Fatal("a refused older snapshot changed the state")
	}
	info = inspect(t, c.Follower(), file)
	if !info.MACValid || !info.SameCluster || info.CurrentIndex <= h.Index || info.Refusal != strings.TrimPrefix(err.Error(), "cluster: ") {
		t.Errorf("inspect an older snapshot = %+v; want the refusal %q", info, err)
	}

	if err := restore(t, c.Leader(), file, true); err != nil {
		t.Fatalf("forced restore: %v", err)
	}
	if d := digest(t, c); d != saved {
		t.Error("after a forced restore the state is not the snapshot's")
	}
	for _, n := range c.Nodes {
		if _, has := n.KV.Get("z"); has {
			t.Errorf("%s still has z after the rollback", n.ID)
		}
	}
	apply(t, c.Follower(), "w=4")
	digest(t, c) // reads work on every node after the rollback
}

// TestSnapshotRestoreRefusesForeign: another cluster's snapshot is refused
// by name, with or without force, and changes nothing.
func TestSnapshotRestoreRefusesForeign(t *testing.T) {
	a, b := oneNode(t), oneNode(t)
	apply(t, a.Leader(), "a=1")
	file := save(t, a.Leader())
	apply(t, b.Leader(), "b=1")
	before := digest(t, b)

	idA, idB := a.Leader().Cfg.Barrier.ClusterID(), b.Leader().Cfg.Barrier.ClusterID()
	for _, force := range []bool{false, true} {
		err := restore(t, b.Leader(), file, force)
		if !errors.Is(err, cluster.ErrForeignSnapshot) || !strings.Contains(err.Error(), "belongs to cluster "+idA+", and this is cluster "+idB) {
			t.Errorf("force %v: restore another cluster's snapshot = %v, want ErrForeignSnapshot naming both clusters", force, err)
		}
	}
	if digest(t, b) != before {
		t.Fatal("a foreign snapshot changed the state")
	}
	info := inspect(t, b.Leader(), file)
	if info.SameCluster || info.MACValid || info.ClusterID != idA || !strings.Contains(info.Refusal, "belongs to cluster "+idA) {
		t.Errorf("inspect a foreign snapshot = %+v", info)
	}
}

// Byte offsets in a file of clustertest's KV, whose cluster id has 32
// characters and whose keyring is empty.
const (
	offFormat    = 8
	offHeaderLen = 12
	offIDLen     = 16
	offID        = 17
	offIndex     = offID + 32
	offCount     = offIndex + 24
	offBody      = offCount + 4
	trailer      = 40
)

// TestSnapshotRestoreRefusesDamage flips each header and trailer byte and
// some body bytes, truncates and extends the file: every copy is refused,
// with or without force, and leaves the state as it was.
func TestSnapshotRestoreRefusesDamage(t *testing.T) {
	c := oneNode(t)
	n := c.Leader()
	for i := range 5 {
		apply(t, n, fmt.Sprintf("k%d=%d", i, i))
	}
	file := save(t, n)
	before := digest(t, c)
	if info := inspect(t, n, file); info.Refusal != "" {
		t.Fatalf("the intact file would be refused: %s", info.Refusal)
	}
	if !bytes.HasPrefix(file[offBody:], []byte("KV ")) {
		t.Fatalf("the body does not start at offset %d", offBody)
	}

	type damage struct {
		name string
		file []byte
		want error
	}
	flip := func(i int) []byte {
		b := bytes.Clone(file)
		b[i] ^= 0xff
		return b
	}
	var cases []damage
	region := func(name string, from, to int, want error) {
		for i := from; i < to; i++ {
			cases = append(cases, damage{fmt.Sprintf("%s byte %d", name, i), flip(i), want})
		}
	}
	region("magic", 0, offFormat, cluster.ErrBadSnapshot)
	region("format", offFormat, offHeaderLen, cluster.ErrBadSnapshot)
	region("header length", offHeaderLen, offIDLen, cluster.ErrBadSnapshot)
	region("cluster id length", offIDLen, offID, cluster.ErrBadSnapshot)
	region("cluster id", offID, offIndex, cluster.ErrBadSnapshot) // 0xff is no id character
	region("index, term, created", offIndex, offCount, cluster.ErrTamperedSnapshot)
	region("key version count", offCount, offBody, cluster.ErrBadSnapshot)
	for _, i := range []int{offBody, offBody + 3, (offBody + len(file) - trailer) / 2, len(file) - trailer - 1} {
		cases = append(cases, damage{fmt.Sprintf("body byte %d", i), flip(i), cluster.ErrTamperedSnapshot})
	}
	region("body length", len(file)-trailer, len(file)-trailer+8, cluster.ErrTamperedSnapshot)
	region("MAC", len(file)-32, len(file), cluster.ErrTamperedSnapshot)
	for _, size := range []int{0, 5, offFormat, offIndex, offBody - 1} {
		cases = append(cases, damage{fmt.Sprintf("cut to %d bytes", size), file[:size], cluster.ErrBadSnapshot})
	}
	for _, size := range []int{offBody, offBody + 10, len(file) / 2, len(file) - 33, len(file) - 1} {
		cases = append(cases, damage{fmt.Sprintf("cut to %d bytes", size), file[:size], cluster.ErrTamperedSnapshot})
	}
	cases = append(cases,
		damage{"one byte appended", append(bytes.Clone(file), 0), cluster.ErrTamperedSnapshot},
		damage{"the body alone", file[offBody : len(file)-trailer], cluster.ErrBadSnapshot},
		damage{"a bare state machine snapshot", append([]byte("KMSDSNAP\x00\x00\x00\x03"), make([]byte, 20)...), cluster.ErrBadSnapshot},
		damage{"index raised", func() []byte {
			b := bytes.Clone(file)
			b[offIndex] = 0x7f
			return b
		}(), cluster.ErrTamperedSnapshot},
		damage{"another valid cluster id", func() []byte {
			b := bytes.Clone(file)
			copy(b[offID:], strings.Repeat("0", 32))
			return b
		}(), cluster.ErrForeignSnapshot},
	)

	for _, tc := range cases {
		for _, force := range []bool{false, true} {
			err := restore(t, n, tc.file, force)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s, force %v: restore = %v, want %v", tc.name, force, err, tc.want)
			}
		}
		// A header that does not parse is an error; anything else is
		// reported with the refusal.
		info, err := n.Node.InspectSnapshot(ctx10s(t), bytes.NewReader(tc.file))
		if errors.Is(tc.want, cluster.ErrBadSnapshot) {
			if !errors.Is(err, cluster.ErrBadSnapshot) {
				t.Errorf("%s: inspect = %+v, %v; want ErrBadSnapshot", tc.name, info, err)
			}
		} else if err != nil || info.MACValid || info.Refusal == "" {
			t.Errorf("%s: inspect = %+v, %v; want an invalid MAC and a refusal", tc.name, info, err)
		}
	}
	if digest(t, c) != before {
		t.Fatal("a refused snapshot changed the state")
	}
	if err := restore(t, n, file, false); err != nil {
		t.Errorf("the intact file after all that: %v", err)
	}
}

// TestSnapshotRestoreRefusalTexts: each refusal says what happened and
// what to do.
func TestSnapshotRestoreRefusalTexts(t *testing.T) {
	c := oneNode(t)
	n := c.Leader()
	apply(t, n, "k=1")
	file := save(t, n)
	for _, tc := range []struct {
		file []byte
		want []string
	}{
		{[]byte("garbage"), []string{"not a kmsd snapshot file"}},
		{file[:offIndex], []string{"truncated", "complete copy"}},
		{file[:len(file)-1], []string{"truncated or damaged", "complete copy"}},
		{func() []byte { b := bytes.Clone(file); b[len(b)-1] ^= 1; return b }(), []string{"MAC does not verify under this cluster's root key", "intact copy"}},
		{func() []byte { b := bytes.Clone(file); b[offFormat+3] = 9; return b }(), []string{"format 9", "reads format 1"}},
		{[]byte("KMSDSNAP\x00\x00\x00\x03"), []string{"bare state machine snapshot", "kmsctl snapshot save"}},
		{reseal(t, n, file, []byte("not a KV snapshot")), []string{"its MAC verifies, but this kmsd cannot load the state"}},
	} {
		err := restore(t, n, tc.file, false)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("refusal %v lacks %q", err, w)
			}
		}
	}
}

// reseal replaces the body of file and writes a valid trailer for it with
// n's snapshot key, as only a holder of the root key can.
func reseal(t *testing.T, n *clustertest.Node, file, body []byte) []byte {
	t.Helper()
	mac, err := n.Cfg.Barrier.SnapshotMAC()
	if err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Clone(file[:offBody]), body...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	mac.Write(b)
	return mac.Sum(b)
}

// TestSnapshotRestoreRefusesUnloadable: a file whose MAC verifies but whose
// state does not load is refused, and the state stays.
func TestSnapshotRestoreRefusesUnloadable(t *testing.T) {
	c := oneNode(t)
	n := c.Leader()
	apply(t, n, "k=1")
	file := save(t, n)
	before := digest(t, c)
	bad := reseal(t, n, file, []byte("not a KV snapshot"))
	if info := inspect(t, n, bad); !info.MACValid || !strings.Contains(info.Refusal, "cannot load") {
		t.Errorf("inspect = %+v; want a valid MAC and a refusal", info)
	}
	if err := restore(t, n, bad, true); !errors.Is(err, cluster.ErrBadSnapshot) {
		t.Errorf("restore = %v, want ErrBadSnapshot", err)
	}
	if digest(t, c) != before {
		t.Fatal("an unloadable snapshot changed the state")
	}
	if err := restore(t, n, reseal(t, n, file, file[offBody:len(file)-trailer]), false); err != nil {
		t.Errorf("a resealed copy of the intact body: %v", err)
	}
}

// sealKeys is an empty keyring: a copied seal only needs the root key.
type sealKeys struct{}

func (sealKeys) DataKey(uint32) ([]byte, bool)         { return nil, false }
func (sealKeys) LatestDataKey() (uint32, []byte, bool) { return 0, nil, false }

// recoveryCluster starts a new cluster of size nodes whose first node has a
// copy of from's seal: the same cluster id and root key.
func recoveryCluster(t *testing.T, from *clustertest.Node, size int) *clustertest.Cluster {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"seal.json", "unseal.key"} {
		b, err := os.ReadFile(filepath.Join(from.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	barrier := seal.NewBarrier(sealKeys{})
	if err := barrier.UnsealFile(dir); err != nil {
		t.Fatal(err)
	}
	c := clustertest.New(t)
	c.Start(func(cfg *cluster.Config) { cfg.DataDir, cfg.Barrier = dir, barrier })
	c.Leader()
	for range size - 1 {
		c.Start()
	}
	if size > 1 {
		c.WaitVoters(size)
	}
	return c
}

// TestSnapshotDisasterRecovery: a new cluster whose first node starts with
// a copy of the old first node's seal has the old cluster's id and root
// key, and restores the old cluster's snapshot without force although its
// own bookkeeping (join tokens, membership) put its applied index past the
// snapshot's.
func TestSnapshotDisasterRecovery(t *testing.T) {
	a := oneNode(t)
	apply(t, a.Leader(), "x=1")
	wantState := digest(t, a)
	file := save(t, a.Leader())
	h := header(t, file)
	a.Leader().Stop()

	b := recoveryCluster(t, a.Nodes[0], 3)
	digest(t, b)
	leader := b.Leader()
	if leader.KV.AppliedIndex() <= h.Index || leader.KV.Count() != 0 {
		t.Fatalf("the new cluster has applied index %d and %d keys; the test needs more than the snapshot's %d and none",
			leader.KV.AppliedIndex(), leader.KV.Count(), h.Index)
	}
	info := inspect(t, b.Follower(), file)
	if !info.SameCluster || !info.MACValid || info.Refusal != "" {
		t.Fatalf("inspect the old cluster's snapshot in its recovery cluster = %+v", info)
	}
	if err := restore(t, leader, file, false); err != nil {
		t.Fatalf("disaster recovery restore: %v", err)
	}
	if digest(t, b) != wantState {
		t.Fatal("the recovered cluster's state is not the snapshot's")
	}
}

// TestSnapshotRecoveryMovesIndexPast: recovering a snapshot whose index is
// past the new cluster's log moves the log past it, so that after the next
// write the snapshot counts as older.
func TestSnapshotRecoveryMovesIndexPast(t *testing.T) {
	a := oneNode(t)
	for i := range 30 {
		apply(t, a.Leader(), fmt.Sprintf("k%d=%d", i, i))
	}
	file := save(t, a.Leader())
	h := header(t, file)
	a.Leader().Stop()

	b := recoveryCluster(t, a.Nodes[0], 1)
	n := b.Leader()
	if got, _ := strconv.ParseUint(n.Node.Stats()["last_log_index"], 10, 64); got >= h.Index {
		t.Fatalf("the new cluster's log is at %d, the snapshot's index %d; the test needs a shorter log", got, h.Index)
	}
	if err := restore(t, n, file, false); err != nil {
		t.Fatalf("disaster recovery restore: %v", err)
	}
	apply(t, n, "y=2")
	after := digest(t, b)
	if got := n.KV.AppliedIndex(); got <= h.Index {
		t.Errorf("after a write the applied index is %d, not past the restored snapshot's %d", got, h.Index)
	}
	if err := restore(t, n, file, false); !errors.Is(err, cluster.ErrOldSnapshot) {
		t.Errorf("restore the old snapshot over newer writes = %v, want ErrOldSnapshot", err)
	}
	if digest(t, b) != after {
		t.Fatal("a refused older snapshot changed the state")
	}
}
