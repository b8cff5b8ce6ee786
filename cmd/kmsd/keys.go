package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// legacyKeyFile is where data folders made before the keyring kept the data
// key in clear. It becomes keyring version 1 and is then removed.
const legacyKeyFile = "node.key"

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// ensureKeyring gives a new cluster its first data key: the legacy node.key
// when the data folder has one (its objects are sealed with it), a fresh
// key otherwise. Only a node that holds the root key and finds the keyring
// empty proposes it; the legacy file is removed once the keyring holds it.
func ensureKeyring(ctx context.Context, rn *cluster.Node, b *seal.Barrier, store *fsm.FSM, dataDir string, logger *slog.Logger) error {
	legacy := filepath.Join(dataDir, legacyKeyFile)
	if _, _, ok := store.LatestDataKey(); ok {
		return removeLegacyKey(legacy, logger)
	}
	if b.Sealed() {
		return nil
	}
	var sealed []byte
	key, err := os.ReadFile(legacy)
	switch {
	case err == nil:
		sealed, err = b.SealDataKey(1, key)
		clear(key)
	case errors.Is(err, fs.ErrNotExist):
		sealed, err = b.NewDataKey(1)
	}
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	reqID := make([]byte, 16)
	_, _ = rand.Read(reqID)
	entry, err := store.EncodeAddDataKey(&kmsdpb.Command{RequestId: reqID, TimeUnixNano: time.Now().UnixNano(), Actor: "kmsd"}, b.ClusterID(), 1, sealed)
	if err != nil {
		return err
	}
	res, err := rn.Apply(ctx, entry)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := store.Outcome(res); err != nil && !errors.Is(err, fsm.ErrConflict) {
		return fmt.Errorf("keyring: %w", err)
	}
	logger.Info("keyring created", "version", 1, "cluster_id", b.ClusterID())
	return removeLegacyKey(legacy, logger)
}

func removeLegacyKey(path string, logger *slog.Logger) error {
	if !fileExists(path) {
		return nil
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove the plaintext %s now held by the keyring: %w", path, err)
	}
	logger.Warn("the plaintext data key file is now keyring version 1, sealed under the root key; removed it", "file", path)
	return nil
}

// newJoinKeys makes the key pair of each join attempt of this node.
func newJoinKeys(b *seal.Barrier, dataDir string, opts seal.InitOptions) func() (cluster.JoinKeys, error) {
	return func() (cluster.JoinKeys, error) { return b.NewJoining(dataDir, opts) }
}
