package fsm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// randomLog is a log of commands of which many fail: activations and
// destroys of objects that do not exist or are in the wrong state, creates
// of ids that exist, retries of an earlier request id, undoable commands.
func randomLog(t *testing.T, rng *rand.Rand, n int) [][]byte {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var log [][]byte
	var retry [][]byte
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		id := fmt.Sprintf("k%d", rng.IntN(n/4+1))
		var e []byte
		switch op := rng.IntN(10); {
		case op < 4:
			e = createEntry(t, alice, at, storedObject(id, symKey("name-"+id)))
		case op < 6:
			e = activateEntry(t, alice, at, id)
		case op < 7:
			e = destroyEntry(t, alice, at, id)
		case op < 8:
			env := env(alice, at)
			env.Undoable = true
			e = mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, env, &kmsdpb.Activate{Id: id})
		case op < 9 && len(retry) > 0:
			e = retry[rng.IntN(len(retry))]
		default:
			e = revokeEntry(t, alice, at, &kmsdpb.Revoke{Id: id, ReasonCode: 1})
		}
		if rng.IntN(5) == 0 {
			retry = append(retry, e)
		}
		log = append(log, e)
	}
	return log
}

// TestApplyLogsEqualsApply applies the same logs one entry at a time and in
// random runs: every result and the final state must be the same.
func TestApplyLogsEqualsApply(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 0))
		log := randomLog(t, rng, 300)

		one := New(Config{})
		var want []*Result
		for i, e := range log {
			want = append(want, one.Apply(uint64(i+1), e))
		}

		batched := New(Config{})
		var got []*Result
		for start := 0; start < len(log); {
			end := min(len(log), start+1+rng.IntN(70))
			var idx []uint64
			for i := start; i < end; i++ {
				idx = append(idx, uint64(i+1))
			}
			for _, r := range batched.ApplyLogs(idx, log[start:end]) {
				got = append(got, r.(*Result))
			}
			start = end
		}

		failures := 0
		for i := range want {
			w, g := want[i], got[i]
			if w.Index != g.Index || fmt.Sprint(w.IDs) != fmt.Sprint(g.IDs) || !errors.Is(g.Err, w.Err) && (w.Err != nil || g.Err != nil) {
				t.Fatalf("seed %d entry %d: batched result {%d %v %v}, one by one {%d %v %v}", seed, i+1, g.Index, g.IDs, g.Err, w.Index, w.IDs, w.Err)
			}
			if (w.Undo == nil) != (g.Undo == nil) || w.Undo != nil && len(w.Undo.GetSteps()) != len(g.Undo.GetSteps()) {
				t.Fatalf("seed %d entry %d: undo differs: batched %v, one by one %v", seed, i+1, g.Undo, w.Undo)
			}
			if w.Err != nil {
				failures++
			}
		}
		if failures == 0 || failures == len(want) {
			t.Fatalf("seed %d: %d of %d commands failed; the log should mix failures and successes", seed, failures, len(want))
		}
		dw, err := one.Digest()
		if err != nil {
			t.Fatal(err)
		}
		dg, err := batched.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if dw != dg {
			t.Fatalf("seed %d: state after batched apply differs from one by one", seed)
		}
		if a, b := one.AppliedIndex(), batched.AppliedIndex(); a != b || a != uint64(len(log)) {
			t.Fatalf("seed %d: applied index %d batched, %d one by one, want %d", seed, b, a, len(log))
		}
	}
}

func TestApplyLogsPanicsOnBadEntry(t *testing.T) {
	f := New(Config{})
	good := createEntry(t, alice, time.Now(), storedObject("k", symKey("k")))
	if r := recoverPanic(func() { f.ApplyLogs([]uint64{1, 2}, [][]byte{good, []byte("junk")}) }); r == nil {
		t.Fatal("ApplyLogs accepted an undecodable entry; want a panic")
	}
	if _, err := f.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an entry of a batch that panicked was applied: Get = %v", err)
	}
}

// BenchmarkApplyBatched applies creates one entry per transaction and in
// runs of 64 (raft hands the state machine up to MaxAppendEntries at once).
func BenchmarkApplyBatched(b *testing.B) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, run := range []int{1, 64} {
		b.Run(fmt.Sprintf("run-%d", run), func(b *testing.B) {
			idx := make([]uint64, b.N)
			data := make([][]byte, b.N)
			for i := range b.N {
				id := fmt.Sprintf("k%d", i)
				idx[i], data[i] = uint64(i+1), createEntry(b, alice, t0, storedObject(id, symKey(id)))
			}
			f := New(Config{})
			b.ResetTimer()
			for start := 0; start < b.N; start += run {
				end := min(b.N, start+run)
				f.ApplyLogs(idx[start:end], data[start:end])
			}
		})
	}
}
