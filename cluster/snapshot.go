package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Why Restore refuses a snapshot file; ErrBadSnapshot (api.go) is a file
// that does not parse or whose state does not load. Each refusal comes as a
// *SnapshotRefusal that says more.
var (
	ErrForeignSnapshot  = errors.New("cluster: the snapshot belongs to another cluster")
	ErrTamperedSnapshot = errors.New("cluster: the snapshot file is damaged or was edited: its MAC does not verify")
	ErrOldSnapshot      = errors.New("cluster: the snapshot is older than the cluster's state; set force to roll back anyway")
)

// SnapshotRefusal is why Restore refuses a snapshot file. Its text is
// written for operators and names ids, indexes and counts, never snapshot
// contents, so it may be shown to clients.
type SnapshotRefusal struct {
	// Err is ErrBadSnapshot, ErrForeignSnapshot, ErrTamperedSnapshot or
	// ErrOldSnapshot.
	Err  error
	Text string
}

func (r *SnapshotRefusal) Error() string { return "cluster: " + r.Text }
func (r *SnapshotRefusal) Unwrap() error { return r.Err }

func refuse(err error, format string, args ...any) *SnapshotRefusal {
	return &SnapshotRefusal{Err: err, Text: fmt.Sprintf(format, args...)}
}

// SnapshotInfo is what InspectSnapshot learns about a snapshot file.
type SnapshotInfo struct {
	SnapshotHeader
	// Size is the file's length in bytes.
	Size int64
	// MACValid: the MAC verifies under this cluster's root key.
	MACValid bool
	// SameCluster: the header names this cluster.
	SameCluster bool
	// CurrentIndex is the state machine's applied index now.
	CurrentIndex uint64
	// Refusal is the text Restore would refuse the file with, "" when it
	// would accept it without force.
	Refusal string
}

// Snapshot streams a snapshot file: a point-in-time snapshot of the state
// machine, taken after a read barrier so that it holds every acknowledged
// write, behind a header and authenticated by the barrier's snapshot MAC.
func (n *Node) Snapshot(ctx context.Context, w io.Writer) error {
	if err := n.ReadBarrier(ctx); err != nil {
		return err
	}
	mac, err := n.cfg.Barrier.SnapshotMAC()
	if err != nil {
		return err
	}
	snap := n.sm.SnapshotState()
	hdr := SnapshotHeader{
		Format: snapFileFormat, ClusterID: n.cfg.Barrier.ClusterID(),
		Index: snap.Index(), Term: n.termOf(snap.Index()), KeyVersions: snap.KeyVersions(), Created: time.Now().UTC(),
	}
	return writeSnapshotFile(w, mac, hdr, snap.Persist)
}

// termOf is the term of the log entry at index. Raft's last_log_term would
// be the newest entry's (a no-op, a configuration change, or a command not
// applied yet), and CurrentTerm the election term now; the entry's own term
// is in the log store. An entry compacted into a Raft snapshot has the
// snapshot's term when it is the snapshot's last entry, and is unknown (0)
// otherwise, as is an index that came from a restored snapshot file.
func (n *Node) termOf(index uint64) uint64 {
	if index == 0 {
		return 0
	}
	var l raft.Log
	if err := n.store.GetLog(index, &l); err == nil {
		return l.Term
	}
	st := n.raft.Stats()
	if parseUint(st["last_snapshot_index"]) == index {
		return parseUint(st["last_snapshot_term"])
	}
	return 0
}

// Restore replaces the state of the whole cluster with a snapshot file. It
// runs on the leader only. The file is spooled to the data folder and
// checked completely before Raft sees it: it must be of this cluster,
// intact (its MAC verifies), loadable, and not older than the cluster's
// state unless force is set (see olderThanState). A refused file changes
// nothing.
func (n *Node) Restore(ctx context.Context, r io.Reader, force bool) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	return n.withSpooledSnapshot(r, func(tmp *os.File, size int64) error {
		info, file, refusal, err := n.examine(ctx, tmp, size)
		if err != nil {
			return err
		}
		if refusal != nil && !(force && errors.Is(refusal, ErrOldSnapshot)) {
			n.logger.Warn("snapshot restore refused", "reason", refusal.Text, "cluster_id", info.ClusterID,
				"index", info.Index, "bytes", size, "force", force)
			return refusal
		}
		// Index lets Raft number the restored snapshot past the file's
		// index, so that the state machine's applied index and the log
		// agree again after restoring into a cluster with a shorter log.
		meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: info.Index, Size: file.body().Size()}
		if err := n.restoreWhenStable(ctx, meta, file); err != nil {
			return err
		}
		n.logger.Warn("cluster state replaced from a snapshot", "cluster_id", info.ClusterID, "index", info.Index,
			"term", info.Term, "bytes", size, "force", force, "rollback", refusal != nil, "previous_index", info.CurrentIndex)
		return nil
	})
}

// restoreWhenStable hands the snapshot to Raft, which refuses while a
// membership change is not yet committed (a server just joined or was
// promoted); that passes, so Restore waits for it, up to its deadline.
func (n *Node) restoreWhenStable(ctx context.Context, meta *raft.SnapshotMeta, file *snapshotFile) error {
	end := deadline(ctx, 5*time.Minute)
	for {
		err := n.raft.Restore(meta, file.body(), time.Until(end))
		if err == nil || !strings.Contains(err.Error(), "wait until the configuration entry") || time.Now().After(end) {
			return mapRaftErr(err)
		}
		select {
		case <-ctx.Done():
			return mapRaftErr(err)
		case <-n.stop:
			return ErrShutdown
		case <-time.After(retryPause):
		}
	}
}

// InspectSnapshot reads a snapshot file and reports its header, whether it
// verifies and is of this cluster, and what Restore would say. It runs on
// any node, after a read barrier. A file without a readable header is an
// error (ErrBadSnapshot); every other refusal is in the answer.
func (n *Node) InspectSnapshot(ctx context.Context, r io.Reader) (SnapshotInfo, error) {
	var info SnapshotInfo
	err := n.withSpooledSnapshot(r, func(tmp *os.File, size int64) error {
		var refusal *SnapshotRefusal
		var err error
		var file *snapshotFile
		info, file, refusal, err = n.examine(ctx, tmp, size)
		switch {
		case err != nil:
			return err
		case refusal != nil && file == nil:
			return refusal // no header to show
		case refusal != nil:
			info.Refusal = refusal.Text
		}
		return nil
	})
	return info, err
}

// withSpooledSnapshot copies r to a temporary file in the data folder and
// calls fn with it; the file is removed afterwards.
func (n *Node) withSpooledSnapshot(r io.Reader, fn func(*os.File, int64) error) error {
	tmp, err := os.CreateTemp(n.cfg.DataDir, ".restore-*")
	if err != nil {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, r)
	if err != nil {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return fn(tmp, size)
}

// examine checks a spooled snapshot file in the order that gives the most
// useful answer: its header parses, it names this cluster (the MAC of
// another cluster cannot be checked here), its MAC verifies, its state
// loads, and it is not older than the cluster's state. err is a failure to
// check at all; refusal says why Restore would refuse the file, and comes
// without file when the header does not parse. info holds what was learnt.
func (n *Node) examine(ctx context.Context, f *os.File, size int64) (SnapshotInfo, *snapshotFile, *SnapshotRefusal, error) {
	info := SnapshotInfo{Size: size}
	if err := n.ReadBarrier(ctx); err != nil {
		return info, nil, nil, err
	}
	info.CurrentIndex = n.sm.AppliedIndex()
	var refusal *SnapshotRefusal
	file, err := parseSnapshotFile(f, size)
	if errors.As(err, &refusal) {
		return info, nil, refusal, nil
	} else if err != nil {
		return info, nil, nil, err
	}
	info.SnapshotHeader = file.hdr
	mac, err := n.cfg.Barrier.SnapshotMAC()
	if err != nil {
		return info, nil, nil, err
	}
	own := n.cfg.Barrier.ClusterID()
	info.SameCluster = file.hdr.ClusterID == own
	if !info.SameCluster {
		return info, file, refuse(ErrForeignSnapshot, "the snapshot belongs to cluster %s, and this is cluster %s: restore it into "+
			"cluster %s, or recover that cluster into a new one whose first node starts with a copy of its seal record and "+
			"unseal key (seal.json, unseal.key)", file.hdr.ClusterID, own, file.hdr.ClusterID), nil
	}
	if err := file.verify(mac); errors.As(err, &refusal) {
		return info, file, refusal, nil
	} else if err != nil {
		return info, nil, nil, err
	}
	info.MACValid = true
	if err := n.sm.ValidateSnapshot(file.body()); err != nil {
		n.logger.Warn("an authenticated snapshot does not load", "cluster_id", file.hdr.ClusterID, "index", file.hdr.Index, "err", err)
		return info, file, refuse(ErrBadSnapshot, "snapshot rejected: its MAC verifies, but this kmsd cannot load the state it holds; "+
			"restore it with the kmsd release that wrote it"), nil
	}
	return info, file, n.olderThanState(file.hdr, info.CurrentIndex), nil
}

// olderThanState refuses a snapshot whose index is below the state
// machine's applied index while the cluster holds objects: restoring it
// would lose what was written since, or bring back what was destroyed. A
// cluster without objects holds only its own bookkeeping (its first keyring
// entry, join tokens), which counts in its applied index but loses nothing
// an operator or a client made: that is a new cluster, started with the
// old cluster's seal to recover it from a snapshot, and it restores any
// snapshot of its cluster. An equal index is the same state.
func (n *Node) olderThanState(hdr SnapshotHeader, current uint64) *SnapshotRefusal {
	objects := n.sm.Count()
	if hdr.Index >= current || objects == 0 {
		return nil
	}
	return refuse(ErrOldSnapshot, "the snapshot is older than the cluster's state: it was taken at index %d, and the cluster "+
		"has applied index %d and holds %d objects; restoring it would roll the cluster back, losing every change since "+
		"index %d and bringing back what was destroyed since. Set force to roll back anyway (only a cluster that holds "+
		"no objects, such as a new one built to recover from this snapshot, restores an older snapshot without force)",
		hdr.Index, current, objects, hdr.Index)
}
