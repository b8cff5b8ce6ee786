package admintest

import (
	"context"
	"crypto/x509"
	"slices"
	"sync"
	"time"

	"github.com/kmsd/kmsd/cluster/denylist"
)

// FakeRevocation is an in-memory deny list for the admin API's
// revocation RPCs; entries get the time Now and the caller as actor.
type FakeRevocation struct {
	mu      sync.Mutex
	entries []denylist.Entry
	trusted []*x509.Certificate
	// Now is the time given to new entries.
	Now time.Time
}

// NewFakeRevocation trusts the given CAs to sign CRLs.
func NewFakeRevocation(trusted ...*x509.Certificate) *FakeRevocation {
	return &FakeRevocation{trusted: trusted, Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// RevokeCertificates implements admin.RevocationControl.
func (f *FakeRevocation) RevokeCertificates(_ context.Context, entries []denylist.Entry, actor string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	added := 0
	for _, e := range entries {
		if slices.ContainsFunc(f.entries, e.Equal) {
			continue
		}
		e.Revoked, e.RevokedBy = f.Now, actor
		f.entries = append(f.entries, e)
		added++
	}
	return added, nil
}

// RevokedCertificates implements admin.RevocationControl.
func (f *FakeRevocation) RevokedCertificates(context.Context) ([]denylist.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries), nil
}

// TrustedCAs implements admin.RevocationControl.
func (f *FakeRevocation) TrustedCAs() []*x509.Certificate { return f.trusted }
