package main

import (
	"context"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
)

// The keyring RPCs (admin.KeyringControl) go to the node of the current
// unsealed period; while sealed they fail with cluster.ErrSealed.

// RotateKey implements admin.KeyringControl.
func (h *host) RotateKey(ctx context.Context, actor string) (uint32, error) {
	rn, err := h.running()
	if err != nil {
		return 0, err
	}
	return rn.RotateKey(ctx, actor)
}

// Rewrap implements admin.KeyringControl.
func (h *host) Rewrap(ctx context.Context, batch int, progress func(cluster.RewrapProgress)) (cluster.RewrapProgress, error) {
	rn, err := h.running()
	if err != nil {
		return cluster.RewrapProgress{}, err
	}
	return rn.Rewrap(ctx, batch, progress)
}

// RetireKey implements admin.KeyringControl.
func (h *host) RetireKey(ctx context.Context, version uint32, actor string) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.RetireKey(ctx, version, actor)
}

// Keyring implements admin.KeyringControl.
func (h *host) Keyring(ctx context.Context) ([]seal.KeyVersion, int, error) {
	rn, err := h.running()
	if err != nil {
		return nil, 0, err
	}
	return rn.Keyring(ctx)
}
