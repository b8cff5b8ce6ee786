package policy

import (
	"fmt"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// DefaultQuotaEntry names the tenant entry whose quota applies to every
// tenant without a tenant entry of its own. No tenant can be called "*"
// (CheckTenant), and the name "default" belongs to the default binding.
const DefaultQuotaEntry = "*"

// MaxQuota bounds a quota's limits: 2^53, which a JSON number (as in
// policy files) still holds exactly.
const MaxQuota = 1 << 53

// Quota is what a tenant's objects may hold at most. A zero limit is no
// limit.
type Quota struct {
	MaxObjects uint64
	MaxBytes   uint64
	// Entry is the tenant entry the quota comes from: the tenant's name,
	// DefaultQuotaEntry, or empty when no entry applies.
	Entry string
}

// QuotaOf returns the quota of tenant: that of the tenant entry named
// after it, else that of the entry named DefaultQuotaEntry, else none.
// entry returns the stored entry of a name, or nil; an entry of another
// kind under the tenant's name does not count. The state machine calls it
// with its own table, the compiled Policy with its map, so both read one
// rule.
func QuotaOf(tenant string, entry func(name string) *kmsdpb.PolicyEntry) Quota {
	for _, name := range []string{tenant, DefaultQuotaEntry} {
		if t := entry(name).GetTenant(); t != nil {
			return Quota{MaxObjects: t.GetMaxObjects(), MaxBytes: t.GetMaxBytes(), Entry: name}
		}
	}
	return Quota{}
}

// Quota returns the quota of a tenant (see QuotaOf).
func (p *Policy) Quota(tenant string) Quota {
	if p == nil {
		return Quota{}
	}
	return QuotaOf(tenant, func(name string) *kmsdpb.PolicyEntry { return p.tenants[name] })
}

// Tenants returns the names of the tenant entries, DefaultQuotaEntry
// included when set, in no particular order.
func (p *Policy) Tenants() []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.tenants))
	for name := range p.tenants {
		out = append(out, name)
	}
	return out
}

// checkTenantEntry checks a tenant entry: named after a tenant (or "*"),
// with limits of at most MaxQuota.
func checkTenantEntry(e *kmsdpb.PolicyEntry) error {
	name := e.GetName()
	switch {
	case name == DefaultEntry:
		return fmt.Errorf("%w: %q is the name of the default binding; the quota of tenants without an entry of their own is the tenant entry %q", ErrInvalid, DefaultEntry, DefaultQuotaEntry)
	case name != DefaultQuotaEntry:
		if err := checkTenant(name); err != nil {
			return fmt.Errorf("tenant entry: %w", err)
		}
	}
	t := e.GetTenant()
	if t.GetMaxObjects() > MaxQuota || t.GetMaxBytes() > MaxQuota {
		return fmt.Errorf("%w: tenant entry %q: max_objects and max_bytes are 0 (no limit) to %d", ErrInvalid, name, uint64(MaxQuota))
	}
	return nil
}
