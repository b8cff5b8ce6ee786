package cluster

import (
	"time"

	"github.com/hashicorp/raft"
)

// When raft snapshots.
//
// A restart loads the newest snapshot and replays the log entries after it,
// so the entries since the last snapshot bound the restart time, and the
// size of the store bounds the cost of each snapshot. Raft snapshots once
// the log holds SnapshotThreshold entries beyond the last snapshot, checked
// every SnapshotInterval (with jitter). A fixed threshold makes a big store
// snapshot over and over under load, a snapshot each few seconds of writes
// that each costs seconds. So the threshold grows with the store: at least
// the configured one, and at least half the number of objects, which keeps
// the work of snapshotting a constant share of the work of writing and a
// restart at most one snapshot load plus half as many entries to replay.
//
// A node that stops gracefully also snapshots first when more than
// shutdownSnapshotMin entries came since the last snapshot, so that it
// starts from the snapshot next time instead of replaying them.

const (
	snapshotTuneEvery   = 30 * time.Second
	shutdownSnapshotMin = 1024
	// snapshotCheckEvery is how often the node checks that raft's own
	// snapshot index has not fallen behind its newest snapshot.
	snapshotCheckEvery = 2 * time.Second
)

// snapshotThreshold is the threshold for a store of count objects.
func snapshotThreshold(configured uint64, count int) uint64 {
	return max(configured, uint64(count)/2)
}

// tuneSnapshots adjusts raft's snapshot threshold to the size of the store,
// and repairs raft's snapshot index (repairSnapshotIndex), until the node
// stops.
func (n *Node) tuneSnapshots(base raft.ReloadableConfig) {
	defer n.wg.Done()
	current := base.SnapshotThreshold
	t := time.NewTicker(snapshotTuneEvery)
	defer t.Stop()
	check := time.NewTicker(snapshotCheckEvery)
	defer check.Stop()
	var behind uint64
	for {
		select {
		case <-n.stop:
			return
		case <-check.C:
			behind = n.repairSnapshotIndex(behind)
			continue
		case <-t.C:
		}
		want := snapshotThreshold(base.SnapshotThreshold, n.sm.Count())
		if want == current {
			continue
		}
		rc := base
		rc.SnapshotThreshold = want
		if err := n.raft.ReloadConfig(rc); err != nil {
			n.logger.Warn("cannot change the snapshot threshold", "threshold", want, "err", err)
			continue
		}
		n.logger.Debug("snapshot threshold follows the store", "threshold", want)
		current = want
	}
}

// snapshotBeforeStop takes a snapshot when enough entries came since the
// last one; a failure only costs a longer replay at the next start.
func (n *Node) snapshotBeforeStop() {
	st := n.raft.Stats()
	last, snap := parseUint(st["applied_index"]), parseUint(st["last_snapshot_index"])
	if last < snap+shutdownSnapshotMin {
		return
	}
	start := time.Now()
	if err := n.raft.Snapshot().Error(); err != nil {
		n.logger.Warn("snapshot before shutdown failed; the next start replays the log", "entries", last-snap, "err", err)
		return
	}
	n.logger.Info("snapshot before shutdown", "entries_since_last", last-snap, "took", time.Since(start).Round(time.Millisecond))
}

// reloadable is the part of rc that ReloadConfig changes.
func reloadable(rc *raft.Config) raft.ReloadableConfig {
	return raft.ReloadableConfig{
		TrailingLogs:      rc.TrailingLogs,
		SnapshotInterval:  rc.SnapshotInterval,
		SnapshotThreshold: rc.SnapshotThreshold,
		HeartbeatTimeout:  rc.HeartbeatTimeout,
		ElectionTimeout:   rc.ElectionTimeout,
	}
}

// repairSnapshotIndex works around hashicorp/raft issue 248: a periodic
// snapshot that started before a snapshot install finishes after it and
// sets raft's last snapshot index back to its own, older index, while the
// store's newest snapshot is the installed one and the log starts after
// it. A follower is unharmed, but once that node leads, a peer that needs
// the entry at the installed snapshot's index (one that has just installed
// that snapshot, such as every new node) gets neither that entry nor a
// snapshot that ends at raft's index: it is sent the same snapshot again
// and again, until the leader's next snapshot, which a big store makes
// rare. A new snapshot, at the applied index, puts the two back in step.
//
// Raft itself is briefly in that state while it installs a snapshot (the
// state machine has not yet applied it) and just before it records one it
// took; so the node acts only when the state machine has applied the
// newest snapshot and the store was ahead of raft at the previous check
// too (seen, from the previous call, is what it returns for the next).
func (n *Node) repairSnapshotIndex(seen uint64) uint64 {
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 {
		return 0
	}
	st := n.raft.Stats()
	last, applied := parseUint(st["last_snapshot_index"]), parseUint(st["applied_index"])
	newest := metas[0].Index
	if newest <= last || applied < newest {
		return 0
	}
	if seen != newest {
		return newest
	}
	n.logger.Warn("raft's snapshot index is behind its newest snapshot; taking a new one",
		"raft_snapshot_index", last, "newest_snapshot_index", metas[0].Index)
	if err := n.raft.Snapshot().Error(); err != nil {
		n.logger.Warn("snapshot to repair the snapshot index failed", "err", err)
	}
	return 0
}
