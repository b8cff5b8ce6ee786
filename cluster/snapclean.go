package cluster

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// removeTempSnapshots deletes the snapshots a previous run left unfinished.
//
// raft writes a snapshot, its own or one a leader sends, into a folder
// named "<id>.tmp" and renames it when the snapshot is complete; a process
// killed before the rename leaves the folder behind. raft's snapshot store
// skips such folders with a warning but never removes them, so every
// interrupted install of a large state leaves a copy of it on disk until
// the disk is full and no later snapshot can be written or installed. The
// node is not running yet when this is called, so nothing is writing into
// those folders.
func removeTempSnapshots(raftDir string, logger *slog.Logger) error {
	dir := filepath.Join(raftDir, "snapshots")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: read the snapshot folder: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("cluster: remove the unfinished snapshot %s: %w", e.Name(), err)
		}
		logger.Warn("removed an unfinished snapshot left by an earlier run", "snapshot", e.Name())
	}
	return nil
}
