package cluster

import (
	"context"
	"sync"
)

// readBatch lets concurrent reads share one read index: callers that
// arrive while a round is in flight wait for the next round, which starts
// after they arrived, so each caller's index was learned after its call
// began (etcd's linearizable read loop works the same way). A round that
// fails fails all its callers, who retry as any read does.
type readBatch struct {
	mu      sync.Mutex
	running bool
	waiters []chan readRound
	rounds  uint64 // rounds run, for tests
}

type readRound struct {
	index uint64
	err   error
}

// do returns the result of a round of fn that started after the call. The
// rounds run in a goroutine of their own, so a caller that gives up returns
// at once and the others still get their result.
func (b *readBatch) do(ctx context.Context, fn func() (uint64, error)) (uint64, error) {
	ch := make(chan readRound, 1)
	b.mu.Lock()
	b.waiters = append(b.waiters, ch)
	if !b.running {
		b.running = true
		go b.loop(fn)
	}
	b.mu.Unlock()
	select {
	case r := <-ch:
		return r.index, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// loop runs rounds until nobody waits; each round is for every caller
// waiting when it starts.
func (b *readBatch) loop(fn func() (uint64, error)) {
	for {
		b.mu.Lock()
		waiters := b.waiters
		b.waiters = nil
		if len(waiters) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.rounds++
		b.mu.Unlock()
		index, err := fn()
		for _, w := range waiters {
			w <- readRound{index, err}
		}
	}
}

func (b *readBatch) roundsRun() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rounds
}

// readIndex returns an index that covers every write acknowledged before
// the call: on the leader its own confirmed commit index, on a follower the
// leader's, asked once for all reads waiting at the time.
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	if n.IsLeader() {
		return n.leaderReadIndex(ctx)
	}
	return n.followerReads.do(ctx, func() (uint64, error) {
		leader, err := n.leaderPeer()
		if err != nil {
			return 0, err
		}
		rctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
		defer cancel()
		resp, err := n.rpc.readIndex(rctx, leader.AdminAddr)
		if err != nil {
			return 0, err
		}
		return resp.GetCommitIndex(), nil
	})
}

// leaderReadIndex confirms leadership with a quorum and returns the commit
// index to wait for. It is not batched here: raft's VerifyLeader already
// lets concurrent confirmations share one heartbeat round, and a batch on
// top measured no faster (BenchmarkReadBarrier/leader/parallel-32).
func (n *Node) leaderReadIndex(context.Context) (uint64, error) {
	return n.confirmReadIndex()
}
