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
)

// snapshotThreshold is the threshold for a store of count objects.
func snapshotThreshold(configured uint64, count int) uint64 {
	return max(configured, uint64(count)/2)
}

// tuneSnapshots adjusts raft's snapshot threshold to the size of the store
// until the node stops.
func (n *Node) tuneSnapshots(base raft.ReloadableConfig) {
	defer n.wg.Done()
	current := base.SnapshotThreshold
	t := time.NewTicker(snapshotTuneEvery)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
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
