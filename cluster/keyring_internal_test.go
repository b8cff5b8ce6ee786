package cluster

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// rotatedState returns a state machine with keyring version 1 and the
// entry that rotates its root key (prepared by b, which does not move).
func rotatedState(t *testing.T, b *seal.Barrier, st *fsm.FSM) (rotation []byte) {
	t.Helper()
	env := func() *kmsdpb.Command {
		return &kmsdpb.Command{RequestId: []byte(time.Now().String()), TimeUnixNano: time.Now().UnixNano(), Actor: "test"}
	}
	sealed, err := b.NewDataKey(1)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := st.EncodeAddDataKey(env(), b.ClusterID(), 1, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if res := st.Apply(1, entry); res.Err != nil {
		t.Fatal(res.Err)
	}
	rot, err := b.PrepareRootRotation(1, []seal.SealedDataKey{{Version: 1, Sealed: sealed}})
	if err != nil {
		t.Fatal(err)
	}
	if rotation, err = st.EncodeRotateRoot(env(), b.ClusterID(), rot); err != nil {
		t.Fatal(err)
	}
	return rotation
}

// TestRaftFSMFollowsRoot: the adapter raft drives moves the barrier when
// it applies a root rotation and when it restores a snapshot of a rotated
// state, and the follower then writes seal.json.
func TestRaftFSMFollowsRoot(t *testing.T) {
	for _, via := range []string{"apply", "restore"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			st := fsm.New(fsm.Config{})
			b := seal.NewBarrier(st)
			if _, err := b.Init(dir, seal.InitOptions{}); err != nil {
				t.Fatal(err)
			}
			rotation := rotatedState(t, b, st)
			f := &raftFSM{sm: st, root: newRootFollower(Config{Keyring: st, Barrier: b, DataDir: dir}, slog.New(slog.DiscardHandler))}
			switch via {
			case "apply":
				if res := f.Apply(&raft.Log{Type: raft.LogCommand, Index: 2, Data: rotation}); st.Outcome(res) != nil {
					t.Fatal(st.Outcome(res))
				}
			case "restore":
				other := fsm.New(fsm.Config{})
				if err := other.Restore(bytes.NewReader(snapshotOf(t, st))); err != nil {
					t.Fatal(err)
				}
				if res := other.Apply(2, rotation); res.Err != nil {
					t.Fatal(res.Err)
				}
				if err := f.Restore(io.NopCloser(bytes.NewReader(snapshotOf(t, other)))); err != nil {
					t.Fatal(err)
				}
			}
			if b.RootEpoch() != 1 {
				t.Fatalf("barrier at root epoch %d after the %s, want 1", b.RootEpoch(), via)
			}
			_, sealed, _ := st.LatestDataKey()
			if err := b.CheckDataKey(1, sealed); err != nil {
				t.Fatalf("the barrier does not open the rotated keyring: %v", err)
			}
			select {
			case <-f.root.kick:
			default:
				t.Fatal("the seal.json writer was not woken")
			}
			if err := f.root.sync(); err != nil {
				t.Fatal(err)
			}
			if rec, err := seal.ReadRecord(dir); err != nil || rec.RootEpoch != 1 {
				t.Fatalf("seal.json after sync: %v", err)
			}
		})
	}
}

func snapshotOf(t *testing.T, st *fsm.FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := st.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
