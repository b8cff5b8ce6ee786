package fsm

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// A retry after a snapshot restore (a new leader installed one) is still
// recognised, also an hour of command time later: the window counts log
// entries, not time.
func TestRequestIDsSurviveSnapshotAndExpire(t *testing.T) {
	f := newTestFSM(t)
	create := createEntry(t, alice, t0, storedObject("k1", symKey("a")))
	f.mustApply(create)

	restored := &testFSM{t: t, FSM: New(Config{})}
	if err := restored.Restore(bytes.NewReader(f.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	restored.next = f.next
	if res := restored.apply(create); res.Err != nil || len(res.IDs) != 1 || res.IDs[0] != "k1" {
		t.Fatalf("retried Create after restore: IDs %v, Err %v; want [k1], nil", res.IDs, res.Err)
	}

	restored.mustApply(createEntry(t, alice, t0.Add(time.Hour), storedObject("k2", symKey("b"))))
	if res := restored.apply(create); res.Err != nil || len(res.IDs) != 1 || res.IDs[0] != "k1" {
		t.Fatalf("retried Create an hour later: IDs %v, Err %v; want [k1], nil", res.IDs, res.Err)
	}
}

// A request id is forgotten requestWindow log entries later even when
// command time has hardly moved, so a burst of writes cannot grow the table
// without bound.
func TestRequestIDsForgottenAfterWindow(t *testing.T) {
	f := newTestFSM(t)
	first := createEntry(t, alice, t0, storedObject("k1", symKey("a")))
	f.mustApply(first)
	f.next = requestWindow - 1
	f.mustApply(createEntry(t, alice, t0, storedObject("k2", symKey("b"))))
	if res := f.apply(first); res.Err != nil || len(res.IDs) != 1 {
		t.Fatalf("retry %d entries later: IDs %v, Err %v; want it still recognised", requestWindow-1, res.IDs, res.Err)
	}
	f.next = requestWindow + 2
	f.mustApply(createEntry(t, alice, t0, storedObject("k3", symKey("c"))))
	if res := f.apply(first); res.Err == nil {
		t.Error("a retry more than requestWindow entries later was treated as a duplicate; want it applied again (and refused as ErrExists)")
	}
}

// A snapshot taken before requests fall out of the window still holds them
// when it is persisted later: the snapshot shares the log's array, which
// commits after it must not change.
func TestSnapshotKeepsItsRequests(t *testing.T) {
	f := newTestFSM(t)
	for i := range 5 {
		f.mustApply(createEntry(t, alice, t0, storedObject(fmt.Sprintf("k%d", i), symKey("a"))))
	}
	snap := f.Snapshot()
	if snap.Index() != f.AppliedIndex() {
		t.Fatalf("snapshot index %d, applied %d", snap.Index(), f.AppliedIndex())
	}
	var want bytes.Buffer
	if err := snap.Persist(&want); err != nil {
		t.Fatal(err)
	}
	// Forget the five, then remember many more, so that the log's array
	// is both written past and moved.
	f.next = requestWindow + 10
	for i := range 300 {
		f.mustApply(createEntry(t, alice, t0, storedObject(fmt.Sprintf("n%d", i), symKey("b"))))
	}
	var got bytes.Buffer
	if err := snap.Persist(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("a snapshot persisted after later commits differs from the same snapshot persisted at once")
	}
	restored := New(Config{})
	if err := restored.Restore(bytes.NewReader(got.Bytes())); err != nil {
		t.Fatal(err)
	}
	if n := len(restored.requests.order); n != 5 {
		t.Errorf("restored %d requests, want 5", n)
	}
}
