package kmip_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	kmsd "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// A sealed node answers every request with a General Failure that says so,
// reads nothing and writes nothing, and serves again once available.
func TestSealedNodeServesNothing(t *testing.T) {
	var sealed, starting atomic.Bool
	f := kmiptest.NewWith(t, func(c *kmsd.Config) {
		c.Available = func() error {
			switch {
			case sealed.Load():
				return fmt.Errorf("node: %w", kmsd.ErrSealed)
			case starting.Load():
				return errors.New("starting")
			}
			return nil
		}
	})
	id := create(t, f, kmip.V1_4)
	applied := f.Replicator.Applied()
	sealed.Store(true)
	for _, p := range []kmip.OperationPayload{
		&payloads.GetRequestPayload{UniqueIdentifier: id},
		&payloads.LocateRequestPayload{},
		&payloads.QueryRequestPayload{},
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey},
		&payloads.DestroyRequestPayload{UniqueIdentifier: id},
	} {
		item := do(t, f, kmip.V1_4, p)
		fails(t, item, kmip.ResultReasonGeneralFailure)
		if item.ResultMessage != "server unavailable: this key server is sealed or has not joined its cluster yet; try another node" {
			t.Errorf("%T: message %q", p, item.ResultMessage)
		}
	}
	if f.Replicator.Applied() != applied || f.Replicator.Barriers() != 0 {
		t.Errorf("a sealed node applied %d commands and took %d barriers", f.Replicator.Applied()-applied, f.Replicator.Barriers())
	}
	sealed.Store(false)
	starting.Store(true)
	item := do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})
	fails(t, item, kmip.ResultReasonGeneralFailure)
	if strings.Contains(item.ResultMessage, "sealed") {
		t.Errorf("a starting node says %q", item.ResultMessage)
	}
	starting.Store(false)
	ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
}
