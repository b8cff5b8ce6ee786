package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster"
)

func randomSnapshot(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSnapshotSaveAndRestore(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	data := randomSnapshot(t, 2<<20+777)
	e.fake.SetSnapshot(data)
	file := filepath.Join(t.TempDir(), "cluster.snap")

	out := ok(t, e.conn, "snapshot", "save", file)
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("saved %d bytes, want the %d of the snapshot", len(got), len(data))
	}
	for _, want := range []string{"saved:  " + file, "bytes:  " + strconv.Itoa(len(data)), "sha256: " + sha(data)} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode: %v %v", st.Mode(), err)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}

	j := decodeJSON[map[string]any](t, ok(t, e.conn, "-o", "json", "snapshot", "restore", file))
	if j["bytes"] != float64(len(data)) || j["sha256"] != sha(data) || j["node"] != e.addr || j["file"] != file {
		t.Errorf("restore json = %v", j)
	}
	if !bytes.Equal(e.fake.Restored(), data) {
		t.Error("the cluster did not get the saved snapshot")
	}
}

func TestSnapshotSaveFailureKeepsOldFile(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	e.fake.SetSnapshot(randomSnapshot(t, 1<<20))
	e.fake.SetError("Snapshot", cluster.ErrNoLeader) // fails after half the data
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, []byte("previous snapshot"))

	fails(t, e.conn, "no leader", "snapshot", "save", file)
	if got, _ := os.ReadFile(file); string(got) != "previous snapshot" {
		t.Errorf("the previous snapshot was overwritten by a partial one (%d bytes)", len(got))
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestSnapshotRestoreRetriesAtLeader(t *testing.T) {
	clearAdminEnv(t)
	leader := startAdmin(t)
	follower := admintest.NewFakeCluster()
	follower.SetStatus(cluster.Status{ID: "n2", State: "follower", LeaderID: "n1", LeaderAdminAddr: leader.addr})
	follower.SetError("Restore", cluster.ErrNotLeader)
	followerAddr := serveAdmin(t, leader.devDir, follower)

	data := randomSnapshot(t, 300<<10)
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, data)

	out, errOut, code := kmsctl(t, "--admin", followerAddr, "--dev-dir", leader.devDir, "snapshot", "restore", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantNote := "kmsctl: " + followerAddr + " is not the leader; retrying against the leader n1 at " + leader.addr + "\n"
	if errOut != wantNote {
		t.Errorf("stderr = %q, want %q", errOut, wantNote)
	}
	if !strings.Contains(out, "node:     "+leader.addr+"\n") || !strings.Contains(out, "sha256:   "+sha(data)+"\n") {
		t.Errorf("stdout:\n%s", out)
	}
	if !bytes.Equal(leader.fake.Restored(), data) {
		t.Error("the leader did not get the snapshot")
	}
	if follower.Restored() != nil {
		t.Error("the follower restored")
	}
	if calls := follower.Calls(); !slices.Equal(calls, []string{"Restore"}) {
		t.Errorf("follower calls = %q", calls)
	}
}

func TestSnapshotRestoreErrors(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, []byte("not a snapshot"))

	e.fake.SetError("Restore", cluster.ErrNotLeader)
	e.fake.SetStatus(cluster.Status{})
	fails(t, e.conn, "not the leader; leader unknown", "snapshot", "restore", file)

	e.fake.SetError("Restore", cluster.ErrBadSnapshot)
	fails(t, e.conn, "snapshot rejected", "snapshot", "restore", file)

	fails(t, e.conn, "cannot read snapshot file", "snapshot", "restore", file+".missing")
	fails(t, e.conn, "timed out", "--timeout", "1ns", "snapshot", "restore", file)
}

func TestSnapshotRestoreForce(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	data := randomSnapshot(t, 200<<10)
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, data)

	out := ok(t, e.conn, "snapshot", "restore", "--force", file)
	if !strings.Contains(out, "forced:   yes\n") {
		t.Errorf("output does not say the restore was forced:\n%s", out)
	}
	j := decodeJSON[map[string]any](t, ok(t, e.conn, "-o", "json", "snapshot", "restore", file))
	if _, has := j["force"]; has {
		t.Errorf("an unforced restore reports force: %v", j)
	}
	if calls := e.fake.Calls(); !slices.Equal(calls, []string{"Restore force", "Restore"}) {
		t.Errorf("calls = %q, want a forced restore, then one without force", calls)
	}
}

// TestSnapshotRestoreRefusals: the cluster's words reach the operator, and
// the old-snapshot refusal names kmsctl's flag.
func TestSnapshotRestoreRefusals(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, []byte("a snapshot file"))
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&cluster.SnapshotRefusal{Err: cluster.ErrForeignSnapshot, Text: "the snapshot belongs to cluster aaa, and this is cluster bbb"},
			"the snapshot belongs to cluster aaa, and this is cluster bbb"},
		{&cluster.SnapshotRefusal{Err: cluster.ErrTamperedSnapshot, Text: "its MAC does not verify; use an intact copy"},
			"its MAC does not verify; use an intact copy"},
		{&cluster.SnapshotRefusal{Err: cluster.ErrOldSnapshot, Text: "the snapshot is older. Set force to roll back anyway"},
			"the snapshot is older. Add --force to roll back anyway"},
		{cluster.ErrOldSnapshot, "older than the cluster's state; add --force to roll back anyway"},
	} {
		e.fake.SetError("Restore", tt.err)
		fails(t, e.conn, tt.want, "snapshot", "restore", file)
	}
}

func TestSnapshotInspect(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	data := randomSnapshot(t, 150<<10)
	file := filepath.Join(t.TempDir(), "cluster.snap")
	writeFile(t, file, data)
	hdr := cluster.SnapshotHeader{Format: 1, ClusterID: "c0ffee", Index: 40, Term: 3, KeyVersions: []uint32{1, 2},
		Created: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)}

	e.fake.SetInspect(cluster.SnapshotInfo{SnapshotHeader: hdr, MACValid: true, SameCluster: true, CurrentIndex: 38})
	out := ok(t, e.conn, "snapshot", "inspect", file)
	for _, want := range []string{
		"file:          " + file, "format:        1", "cluster id:    c0ffee (this cluster)", "index:         40",
		"term:          3", "key versions:  1, 2", "created:       2026-05-04T03:02:01Z", "size:          " + strconv.Itoa(len(data)) + " bytes",
		"mac:           valid", "current index: 38", "verdict:       restore would be accepted", "node:          " + e.addr,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	e.fake.SetInspect(cluster.SnapshotInfo{SnapshotHeader: hdr, MACValid: true, SameCluster: true, CurrentIndex: 50,
		Refusal: "the snapshot is older. Set force to roll back anyway"})
	j := decodeJSON[map[string]any](t, ok(t, e.conn, "-o", "json", "snapshot", "inspect", file))
	want := map[string]any{
		"file": file, "format": 1.0, "cluster_id": "c0ffee", "index": 40.0, "term": 3.0, "key_versions": []any{1.0, 2.0},
		"created": "2026-05-04T03:02:01Z", "size": float64(len(data)), "mac_valid": true, "same_cluster": true,
		"current_index": 50.0, "restore_accepted": false, "refusal": "the snapshot is older. Add --force to roll back anyway", "node": e.addr,
	}
	if !reflect.DeepEqual(j, want) {
		t.Errorf("json = %v\nwant   %v", j, want)
	}

	e.fake.SetInspect(cluster.SnapshotInfo{SnapshotHeader: hdr, CurrentIndex: 50, Refusal: "the snapshot belongs to cluster c0ffee"})
	out = ok(t, e.conn, "snapshot", "inspect", file)
	for _, want := range []string{"cluster id:    c0ffee (another cluster)", "mac:           not checked",
		"verdict:       restore would be refused: the snapshot belongs to cluster c0ffee"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if e.fake.Restored() != nil {
		t.Error("inspect restored the snapshot")
	}

	e.fake.SetError("InspectSnapshot", &cluster.SnapshotRefusal{Err: cluster.ErrBadSnapshot, Text: "snapshot rejected: not a kmsd snapshot file"})
	fails(t, e.conn, "snapshot rejected: not a kmsd snapshot file", "snapshot", "inspect", file)
	fails(t, e.conn, "cannot read snapshot file", "snapshot", "inspect", file+".missing")
}
