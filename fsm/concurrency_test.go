package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
)

// TestConcurrentReadersDuringApply runs readers against the store while one
// goroutine applies commands, the way raft's FSM goroutine and KMIP request
// handlers share it. Run with -race.
func TestConcurrentReadersDuringApply(t *testing.T) {
	const objects = 150
	f := New(Config{})
	// Build the log up front: Encode and t.Fatal belong to this goroutine.
	var log [][]byte
	for i := range objects {
		id := fmt.Sprintf("k%03d", i)
		at := t0.Add(time.Duration(i) * time.Second)
		log = append(log, createEntry(t, alice, at, storedObject(id, symKey(id))))
		log = append(log, activateEntry(t, alice, at, id))
		if i%3 == 0 {
			log = append(log, revokeEntry(t, alice, at, compromise(id)))
			log = append(log, destroyEntry(t, alice, at, id))
		}
	}

	done := make(chan struct{})
	applyErr := make(chan error, 1)
	go func() {
		defer close(done)
		for i, data := range log {
			if res := f.Apply(uint64(i+1), data); res.Err != nil {
				applyErr <- fmt.Errorf("entry %d: %w", i+1, res.Err)
				return
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	reader := func(name string, read func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := read(); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}

	active := []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateActive)}
	reader("locate", func() error {
		ids, total, err := f.Locate(Query{Owner: alice, Now: t0, Filters: active, MaxItems: 10})
		if err != nil {
			return err
		}
		if len(ids) > 10 || total < len(ids) {
			return fmt.Errorf("%d ids of %d", len(ids), total)
		}
		// Every id Locate returns exists, is alice's and was seen Active in
		// that view; a later Get may see it compromised or destroyed.
		for _, id := range ids {
			o, err := f.Get(id)
			if err != nil {
				return fmt.Errorf("located %s: %w", id, err)
			}
			if o.Owner != alice {
				return fmt.Errorf("located %s of %q", id, o.Owner)
			}
		}
		return nil
	})
	reader("get", func() error {
		for i := 0; i < objects; i += 7 {
			o, err := f.Get(fmt.Sprintf("k%03d", i))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if o.ID != fmt.Sprintf("k%03d", i) || o.StoredState() == 0 {
				return fmt.Errorf("torn object %+v", o)
			}
		}
		return nil
	})
	reader("digest", func() error {
		_, err := f.Digest()
		return err
	})
	reader("snapshot", func() error {
		var buf bytes.Buffer
		if err := f.Snapshot().Persist(&buf); err != nil {
			return err
		}
		g := New(Config{})
		return g.Restore(&buf)
	})
	reader("count", func() error {
		if n := f.Count(); n < 0 || n > objects {
			return fmt.Errorf("count %d", n)
		}
		_ = f.AppliedIndex()
		return nil
	})

	<-done
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-applyErr:
		t.Fatal(err)
	default:
	}

	if f.Count() != objects || f.AppliedIndex() != uint64(len(log)) {
		t.Errorf("Count %d AppliedIndex %d, want %d %d", f.Count(), f.AppliedIndex(), objects, len(log))
	}
	// The end state is the same as a sequential replay of the same log.
	g := New(Config{})
	for i, data := range log {
		g.Apply(uint64(i+1), data)
	}
	checkSameStore(t, g, f)
}

// TestRestoreWhileReading swaps the store under concurrent readers: each
// reader sees either the old or the new store, never a mix or a race.
func TestRestoreWhileReading(t *testing.T) {
	a, b := locateFixture(t), newTestFSM(t)
	b.mustApply(createEntry(t, alice, t0, storedObject("other", symKey("other"))))
	snapA, snapB := a.snapshotBytes(), b.snapshotBytes()
	f := New(Config{})

	done := make(chan struct{})
	restoreErr := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 50 {
			snap := snapA
			if i%2 == 1 {
				snap = snapB
			}
			if err := f.Restore(bytes.NewReader(snap)); err != nil {
				restoreErr <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	bad := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ids, total, err := f.Locate(Query{Owner: alice, Now: locateNow})
				if err != nil || (total != 0 && total != 1 && total != 5) || len(ids) != total {
					bad <- fmt.Sprintf("Locate %v %d %v", ids, total, err)
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	<-done
	wg.Wait()
	close(bad)
	for s := range bad {
		t.Error(s)
	}
	select {
	case err := <-restoreErr:
		t.Fatal(err)
	default:
	}
}
