package conformance

import (
	"context"
	"fmt"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
)

// Cleaner destroys the objects vectors leave behind so that each vector
// starts from a server without visible objects: vectors locate by name
// ("Key1") and expect exactly their own object back.
type Cleaner struct {
	Client *kmipclient.Client
	done   map[string]bool // ids already handled: never retried
}

// Clean revokes and destroys every object the client can locate, best
// effort: an object that refuses is left alone and not retried. It returns
// an error only when Locate itself fails.
func (c *Cleaner) Clean(ctx context.Context) error {
	if c.done == nil {
		c.done = map[string]bool{}
	}
	resp, err := c.Client.Locate().
		WithStorageStatusMask(kmip.StorageStatusOnlineStorage | kmip.StorageStatusArchivalStorage).
		ExecContext(ctx)
	if err != nil {
		// A server without archival storage may refuse the mask.
		if resp, err = c.Client.Locate().ExecContext(ctx); err != nil {
			return fmt.Errorf("conformance: cleanup: locate: %w", err)
		}
	}
	for _, id := range resp.UniqueIdentifier {
		if c.done[id] {
			continue
		}
		c.done[id] = true
		// KMIP 1.4 §4.21: an Active object must be revoked before Destroy.
		_, _ = c.Client.Revoke(id).
			WithRevocationReasonCode(kmip.RevocationReasonCodeCessationOfOperation).
			ExecContext(ctx)
		if _, err := c.Client.Destroy(id).ExecContext(ctx); err == nil {
			continue
		}
		// Archived objects are recovered first.
		if _, err := c.Client.Recover(id).ExecContext(ctx); err == nil {
			_, _ = c.Client.Destroy(id).ExecContext(ctx)
		}
	}
	return nil
}
