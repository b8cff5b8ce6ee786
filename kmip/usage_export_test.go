package kmip

import (
	"context"
	"time"

	"github.com/ovh/kmip-go"
)

// MarkServed runs, for identity, what Get does once it has the object ready:
// the first serving of a fresh object marks it not fresh.
func (s *Service) MarkServed(ctx context.Context, identity, id string) error {
	o, err := s.cfg.Store.Get(id)
	if err != nil {
		return err
	}
	rc := &reqCtx{identity: identity, tenant: identity, version: kmip.V1_4, now: s.cfg.Now().UTC().Truncate(time.Second)}
	return s.markServed(ctx, rc, o)
}

// WaitServed returns once Fresh is cleared on every object served so far.
func (s *Service) WaitServed(ctx context.Context) error { return s.fresh.wait(ctx) }

// RoutedOperations lists the operations the service answers in KMIP 1.4.
func (s *Service) RoutedOperations() []kmip.Operation { return s.operations(kmip.V1_4) }

// UsageWaiting counts the requests claiming a use of the key that have not
// had their answer yet.
func (s *Service) UsageWaiting(id string) int {
	s.usage.mu.Lock()
	defer s.usage.mu.Unlock()
	if g := s.usage.groups[id]; g != nil {
		return g.outstanding
	}
	return 0
}
