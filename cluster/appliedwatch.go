package cluster

import (
	"sync"
	"time"
)

// appliedWatch wakes the callers that wait for the state machine to reach
// an index (a forwarded write, a read barrier) each time entries were
// applied, instead of each polling on its own.
type appliedWatch struct {
	mu sync.Mutex
	ch chan struct{}
}

func newAppliedWatch() *appliedWatch { return &appliedWatch{ch: make(chan struct{})} }

// changed returns a channel that is closed at the next notify.
func (w *appliedWatch) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// notify wakes every caller of changed so far.
func (w *appliedWatch) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// appliedRecheck bounds the wait between two checks: entries that never
// reach the state machine (raft's no-op of a new term) move raft's applied
// index without a notify.
const appliedRecheck = 20 * time.Millisecond
