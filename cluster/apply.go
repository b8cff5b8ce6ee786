package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/proto/clusterpb"
)

// retryPause is how long a forwarder waits before asking again after the
// leader changed or was not known yet.
const retryPause = 50 * time.Millisecond

// Apply proposes one command and returns the state machine's answer once the
// entry is committed and applied on this node (read-your-writes). On a
// follower the command is forwarded to the leader unchanged, so its request
// id makes a retry after a lost leader harmless.
func (n *Node) Apply(ctx context.Context, cmd []byte) (any, error) {
	if len(cmd) > n.cfg.MaxCommandSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(cmd), n.cfg.MaxCommandSize)
	}
	var res any
	err := n.retryLeader(ctx, func(ctx context.Context) error {
		var err error
		res, err = n.applyOnce(ctx, cmd)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// retryLeader runs once until it succeeds, fails for good, or the apply
// timeout passes: errors that a leader change explains (not the leader, no
// leader yet, the leader unreachable) are retried after a short pause.
func (n *Node) retryLeader(ctx context.Context, once func(context.Context) error) error {
	ctx, cancel := context.WithDeadline(ctx, deadline(ctx, n.cfg.ApplyTimeout))
	defer cancel()
	for {
		err := once(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if n.raftDown() {
			// Raft stopped under the node (it was removed from the
			// cluster): no leader will come.
			return ErrShutdown
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrTimeout, err)
		case <-n.stop:
			return ErrShutdown
		case <-time.After(retryPause):
		}
	}
}

// raftDown reports whether raft has shut down while the node runs, as it
// does on a node that the cluster removed.
func (n *Node) raftDown() bool { return n.raft.State() == raft.Shutdown }

func retryable(err error) bool {
	return isErr(err, ErrNotLeader) || isErr(err, ErrNoLeader) || isErr(err, ErrUnreachable)
}

func (n *Node) applyOnce(ctx context.Context, cmd []byte) (any, error) {
	if n.IsLeader() {
		_, res, err := n.applyLocal(ctx, cmd)
		return res, err
	}
	leader, err := n.leaderPeer()
	if err != nil {
		return nil, err
	}
	resp, err := n.rpc.forward(ctx, leader.AdminAddr, cmd)
	if err != nil {
		return nil, err
	}
	if err := n.waitApplied(ctx, resp.GetIndex()); err != nil {
		return nil, err
	}
	return n.sm.DecodeResult(resp.GetResult())
}

// applyLocal proposes on this node, which must be the leader.
func (n *Node) applyLocal(ctx context.Context, cmd []byte) (uint64, any, error) {
	timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
	f := n.raft.Apply(cmd, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return 0, nil, mapRaftErr(err)
		}
		return f.Index(), f.Response(), nil
	case <-ctx.Done():
		// The entry may still commit; the caller only stops waiting.
		return 0, nil, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

// waitApplied blocks until this node's state machine has applied index.
// Raft's AppliedIndex only says an entry was handed to the state machine,
// not that it was applied, so the state machine's own index decides.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	for {
		changed := n.appliedW.changed()
		if n.applied(index) {
			return nil
		}
		if n.raftDown() {
			return ErrShutdown
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: index %d not applied here", ErrTimeout, index)
		case <-n.stop:
			return ErrShutdown
		case <-changed:
		case <-time.After(appliedRecheck):
		}
	}
}

// applied reports whether every command up to index is in the state machine.
func (n *Node) applied(index uint64) bool {
	if n.raft.AppliedIndex() < index {
		return false
	}
	return n.sm.AppliedIndex() >= n.lastCommandAtOrBelow(index)
}

// lastCommandAtOrBelow finds the last command entry at or below index that
// the state machine has not seen yet; entries of other types (no-ops,
// configuration) never reach it. Entries already compacted into a snapshot
// are part of the state machine.
func (n *Node) lastCommandAtOrBelow(index uint64) uint64 {
	for i := index; i > n.sm.AppliedIndex(); i-- {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

// ReadBarrier makes the next local read see every write the cluster
// acknowledged before the call: it learns the leader's commit index (the
// leader confirms it still leads) and waits until this node applied it.
func (n *Node) ReadBarrier(ctx context.Context) error {
	return n.retryLeader(ctx, func(ctx context.Context) error {
		index, err := n.readIndex(ctx)
		if err != nil {
			return err
		}
		return n.waitApplied(ctx, index)
	})
}

// confirmReadIndex reads the commit index, then confirms with a quorum
// that this node still leads: the index covers every write acknowledged
// before it was read.
func (n *Node) confirmReadIndex() (uint64, error) {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		// A new leader may not know yet that its predecessor committed
		// more: wait until it committed an entry of its own term.
		return 0, fmt.Errorf("%w: leader of term %d not confirmed yet", ErrNoLeader, term)
	}
	index := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, mapRaftErr(err)
	}
	return index, nil
}

// leaderPeer returns what this node knows of the current leader.
func (n *Node) leaderPeer() (peerInfo, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return peerInfo{}, ErrNoLeader
	}
	p, ok := n.peers.get(string(id))
	if !ok || p.AdminAddr == "" {
		return peerInfo{}, fmt.Errorf("%w: address of leader %s not known yet", ErrNoLeader, id)
	}
	return p, nil
}

// forwardToLeader runs fn against the leader's node service; on the leader
// itself it runs local instead.
func (n *Node) forwardToLeader(ctx context.Context, local func() error, remote func(c clusterpb.ClusterClient) error) error {
	return n.retryLeader(ctx, func(context.Context) error {
		if n.IsLeader() {
			return local()
		}
		leader, err := n.leaderPeer()
		if err != nil {
			return err
		}
		c, err := n.rpc.client(leader.AdminAddr)
		if err != nil {
			return err
		}
		return mapRPCErr(remote(c))
	})
}
