package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadBatchSharesRounds: 50 concurrent reads share a handful of rounds,
// and a read never gets the result of a round that started before it.
func TestReadBatchSharesRounds(t *testing.T) {
	var b readBatch
	var started atomic.Uint64 // rounds started so far
	fn := func() (uint64, error) {
		seq := started.Add(1)
		time.Sleep(5 * time.Millisecond) // one confirmation round trip
		return seq, nil
	}
	const readers = 50
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := started.Load()
			got, err := b.do(context.Background(), fn)
			if err != nil {
				t.Error(err)
				return
			}
			if got <= before {
				t.Errorf("a read that began after round %d got the result of round %d", before, got)
			}
		}()
	}
	wg.Wait()
	if r := b.roundsRun(); r >= readers || r == 0 {
		t.Errorf("%d concurrent reads took %d rounds", readers, r)
	}
}

// TestReadBatchCancel: a caller that gives up does not block the round, and
// the others still get its result.
func TestReadBatchCancel(t *testing.T) {
	var b readBatch
	release := make(chan struct{})
	fn := func() (uint64, error) { <-release; return 7, nil }
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := b.do(ctx, fn); errc <- err }()
	res := make(chan uint64, 1)
	go func() { i, _ := b.do(context.Background(), fn); res <- i }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; err == nil {
		t.Error("a canceled read returned no error")
	}
	close(release)
	if got := <-res; got != 7 {
		t.Errorf("got %d", got)
	}
}
