package fsm

import (
	"errors"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Tenants' usage and quotas. The usage table holds, per tenant, how many
// objects it owns and how many bytes their rows hold (sealed material and
// encoded attributes). putObject and deleteObject adjust it in the
// transaction that changes the row, so it is always the sum over the
// objects table; it is derived state, left out of snapshots and recomputed
// by Restore. The commands that grow a tenant (create, register, key pair,
// re-key, add and modify attribute) check its quota after their change, in
// Apply: every replica refuses the same command, whatever was proposed
// concurrently. Life-cycle changes (activate, revoke, destroy) are never
// refused; the dates they add may take a tenant a few bytes over its byte
// quota.

const tableUsage = "tenant_usage"

// Per-object limits. The KMIP service checks them before it proposes, for a
// precise answer, and Apply checks them again, so that commands proposed
// concurrently cannot take an object past them.
const (
	// MaxAttrBytes bounds one attribute as EncodeAttribute writes it (name,
	// index and value).
	MaxAttrBytes = 64 << 10
	// MaxObjectAttrs is the number of attribute instances past which Add
	// Attribute refuses to add to an object.
	MaxObjectAttrs = 1024
)

// ErrQuotaExceeded is the family of quota refusals: errors.Is matches
// ErrObjectQuota and ErrByteQuota, which say which limit was hit.
var ErrQuotaExceeded = errors.New("fsm: tenant quota exceeded")

// Quota and per-object limit errors.
var (
	ErrObjectQuota  error = &quotaError{"fsm: tenant object quota exceeded"}
	ErrByteQuota    error = &quotaError{"fsm: tenant byte quota exceeded"}
	ErrTooManyAttrs       = errors.New("fsm: the object holds the most attributes allowed")
	ErrAttrTooLarge       = errors.New("fsm: attribute larger than allowed")
)

type quotaError struct{ msg string }

func (e *quotaError) Error() string        { return e.msg }
func (e *quotaError) Is(target error) bool { return target == ErrQuotaExceeded }

// TenantUsage is what a tenant's objects hold.
type TenantUsage struct {
	Tenant  string
	Objects uint64
	// Bytes is the sum of the objects' row sizes: sealed material (none
	// once destroyed) and encoded attributes.
	Bytes uint64
}

// rowBytes is what a row counts against its tenant's byte quota.
func rowBytes(r *row) int64 { return int64(len(r.data)) }

// rowChanged adjusts the usage for a row replaced by another (before or
// after nil for an insert or a delete).
func rowChanged(tx *memdb.Txn, before, after *row) error {
	if before != nil && after != nil && before.Owner == after.Owner {
		return adjustUsage(tx, after.Owner, 0, rowBytes(after)-rowBytes(before))
	}
	if before != nil {
		if err := adjustUsage(tx, before.Owner, -1, -rowBytes(before)); err != nil {
			return err
		}
	}
	if after != nil {
		return adjustUsage(tx, after.Owner, 1, rowBytes(after))
	}
	return nil
}

// adjustUsage adds to a tenant's usage. A tenant without objects has no
// row, as after a restore.
func adjustUsage(tx *memdb.Txn, tenant string, objects, bytes int64) error {
	if objects == 0 && bytes == 0 {
		return nil
	}
	raw, err := tx.First(tableUsage, indexID, tenant)
	if err != nil {
		return fmt.Errorf("fsm: usage of %q: %w", tenant, err)
	}
	u := TenantUsage{Tenant: tenant}
	if raw != nil {
		u = *raw.(*TenantUsage)
	}
	o, b := int64(u.Objects)+objects, int64(u.Bytes)+bytes
	if o < 0 || b < 0 || (o == 0 && b != 0) {
		return fmt.Errorf("fsm: usage of %q would be %d objects, %d bytes", tenant, o, b)
	}
	u.Objects, u.Bytes = uint64(o), uint64(b)
	if o == 0 {
		return tx.Delete(tableUsage, raw)
	}
	return tx.Insert(tableUsage, &u)
}

func usageOf(tx *memdb.Txn, tenant string) TenantUsage {
	raw, err := tx.First(tableUsage, indexID, tenant)
	if err != nil || raw == nil {
		return TenantUsage{Tenant: tenant}
	}
	return *raw.(*TenantUsage)
}

// quotaOf reads a tenant's quota from the policy table of the transaction,
// so that a policy change earlier in the same batch counts.
func quotaOf(tx *memdb.Txn, tenant string) policy.Quota {
	return policy.QuotaOf(tenant, func(name string) *kmsdpb.PolicyEntry {
		raw, err := tx.First(tablePolicy, indexID, name)
		if err != nil || raw == nil {
			return nil
		}
		return raw.(*policyRow).Entry
	})
}

// growing runs a change to tenant's objects and refuses it if it raised
// the tenant's objects or bytes past a quota limit. A tenant already over a
// lowered limit may still shrink, or change without growing.
func growing(tx *memdb.Txn, tenant string, change func() ([]string, error)) ([]string, error) {
	before := usageOf(tx, tenant)
	ids, err := change()
	if err != nil {
		return nil, err
	}
	after, q := usageOf(tx, tenant), quotaOf(tx, tenant)
	switch {
	case q.MaxObjects != 0 && after.Objects > before.Objects && after.Objects > q.MaxObjects:
		return nil, ErrObjectQuota
	case q.MaxBytes != 0 && after.Bytes > before.Bytes && after.Bytes > q.MaxBytes:
		return nil, ErrByteQuota
	}
	return ids, nil
}

// checkAttrSizes refuses an encoded attribute larger than MaxAttrBytes.
func checkAttrSizes(attrs [][]byte) error {
	for _, a := range attrs {
		if len(a) > MaxAttrBytes {
			return fmt.Errorf("%w: %d bytes, at most %d", ErrAttrTooLarge, len(a), MaxAttrBytes)
		}
	}
	return nil
}

// usageCounter sums the rows of a restore.
type usageCounter map[string]*TenantUsage

func (c usageCounter) add(r *row) {
	u := c[r.Owner]
	if u == nil {
		u = &TenantUsage{Tenant: r.Owner}
		c[r.Owner] = u
	}
	u.Objects++
	u.Bytes += uint64(len(r.data))
}

func (c usageCounter) insert(tx *memdb.Txn) error {
	for _, u := range c {
		if err := tx.Insert(tableUsage, u); err != nil {
			return err
		}
	}
	return nil
}

// TenantUsage returns what a tenant's objects hold.
func (f *FSM) TenantUsage(tenant string) TenantUsage { return usageOf(f.readTxn(), tenant) }

// TenantUsages returns the usage of every tenant that holds objects, in
// tenant order.
func (f *FSM) TenantUsages() ([]TenantUsage, error) {
	it, err := f.readTxn().Get(tableUsage, indexID)
	if err != nil {
		return nil, err
	}
	var out []TenantUsage
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, *raw.(*TenantUsage))
	}
	return out, nil
}
