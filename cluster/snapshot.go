package cluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
)

// Snapshot streams a point-in-time snapshot of the state machine, taken
// after a read barrier so that it holds every acknowledged write.
func (n *Node) Snapshot(ctx context.Context, w io.Writer) error {
	if err := n.ReadBarrier(ctx); err != nil {
		return err
	}
	return n.sm.SnapshotState().Persist(w)
}

// Restore replaces the state of the whole cluster with a snapshot. It runs
// on the leader only; the snapshot is checked completely before Raft sees it.
func (n *Node) Restore(ctx context.Context, r io.Reader) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	tmp, err := os.CreateTemp(n.cfg.DataDir, ".restore-*")
	if err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, r)
	if err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := n.sm.ValidateSnapshot(tmp); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}
	timeout := time.Until(deadline(ctx, 5*time.Minute))
	if err := n.raft.Restore(meta, tmp, timeout); err != nil {
		return mapRaftErr(err)
	}
	n.logger.Warn("cluster state replaced from a snapshot", "bytes", size, "file", filepath.Base(tmp.Name()))
	return nil
}
