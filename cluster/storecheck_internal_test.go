package cluster

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// writeLogStore writes a bbolt log store of n entries of 1 KiB and returns
// its path.
func writeLogStore(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	store, err := raftboltdb.NewBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := 1; i <= n; i++ {
		logs = append(logs, &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(i)}, 1024)})
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckLogStore: a truncated, emptied or overwritten raft.db is refused
// with an error naming the file (bbolt itself panics on such a file, on
// open or at the next write, or starts a new log on an empty one), and so
// is a missing one next to snapshots; an intact one and the missing one of
// a new node pass.
func TestCheckLogStore(t *testing.T) {
	if err := checkLogStore(filepath.Join(t.TempDir(), "raft.db"), false); err != nil {
		t.Errorf("missing file of a new node: %v", err)
	}
	if err := checkLogStore(filepath.Join(t.TempDir(), "raft.db"), true); !errors.Is(err, ErrDamagedStore) {
		t.Errorf("missing file next to snapshots: %v, want ErrDamagedStore", err)
	}
	intact := writeLogStore(t, 200)
	if err := checkLogStore(intact, true); err != nil {
		t.Fatalf("intact store: %v", err)
	}
	st, _ := os.Stat(intact)
	damage := map[string]func(path string) error{
		"cut in half":      func(p string) error { return os.Truncate(p, st.Size()/2) },
		"cut to one page":  func(p string) error { return os.Truncate(p, 4096) },
		"empty":            func(p string) error { return os.Truncate(p, 0) },
		"meta pages wiped": func(p string) error { return wipe(p, 0, 8192) },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			path := writeLogStore(t, 200)
			if err := f(path); err != nil {
				t.Fatal(err)
			}
			err := checkLogStore(path, false)
			if !errors.Is(err, ErrDamagedStore) || !strings.Contains(err.Error(), path) {
				t.Fatalf("checkLogStore = %v, want ErrDamagedStore naming %s", err, path)
			}
			if _, err := openLogStore(path, false); !errors.Is(err, ErrDamagedStore) {
				t.Errorf("openLogStore = %v, want ErrDamagedStore", err)
			}
			t.Log(err)
		})
	}
}

func wipe(path string, off, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(make([]byte, n), off)
	return err
}

// TestExplainSnapshots: when no snapshot loads, the error names each
// snapshot folder and why; when one opens, raft's error is kept.
func TestExplainSnapshots(t *testing.T) {
	dir := t.TempDir()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 2; i++ {
		sink, err := snaps.Create(raft.SnapshotVersionMax, 10*i, 1, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(bytes.Repeat([]byte{1}, 4096)); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
	}
	raftErr := errors.New("failed to load any existing snapshots")
	metas, _ := snaps.List()
	if err := os.Truncate(filepath.Join(dir, "snapshots", metas[0].ID, "state.bin"), 100); err != nil {
		t.Fatal(err)
	}
	if err := explainSnapshots(raftErr, snaps, dir); errors.Is(err, ErrDamagedStore) {
		t.Errorf("one snapshot still opens, yet: %v", err)
	}
	if err := os.Truncate(filepath.Join(dir, "snapshots", metas[1].ID, "state.bin"), 100); err != nil {
		t.Fatal(err)
	}
	err = explainSnapshots(raftErr, snaps, dir)
	if !errors.Is(err, ErrDamagedStore) {
		t.Fatalf("explainSnapshots = %v, want ErrDamagedStore", err)
	}
	for _, m := range metas {
		if !strings.Contains(err.Error(), filepath.Join(dir, "snapshots", m.ID)) {
			t.Errorf("error does not name snapshot %s: %v", m.ID, err)
		}
	}
}
