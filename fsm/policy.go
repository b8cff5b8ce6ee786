package fsm

import (
	"errors"
	"fmt"
	"sync/atomic"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The access policy: named entries that bind client identities to a tenant
// and a role, and custom roles (kmip/policy says what they mean). A change
// is applied only if the whole resulting policy compiles, so the stored
// policy is always one the KMIP service can use.

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_SET_POLICY, func() *kmsdpb.SetPolicy { return &kmsdpb.SetPolicy{} }, applySetPolicy)
	register(kmsdpb.CommandType_COMMAND_TYPE_DELETE_POLICY_ENTRY, func() *kmsdpb.DeletePolicyEntry { return &kmsdpb.DeletePolicyEntry{} }, applyDeletePolicyEntry)
}

const tablePolicy = "policy"

// Policy errors.
var (
	ErrPolicyRefused  = errors.New("fsm: the policy change leaves an invalid policy")
	ErrNoPolicyEntry  = errors.New("fsm: no such policy entry")
	errTooManyEntries = fmt.Errorf("%w: too many entries in one change", ErrMalformed)
)

// policyRow is one stored entry.
type policyRow struct {
	Name  string
	Entry *kmsdpb.PolicyEntry
}

func policyEntries(tx *memdb.Txn) ([]*kmsdpb.PolicyEntry, error) {
	it, err := tx.Get(tablePolicy, indexID)
	if err != nil {
		return nil, err
	}
	var out []*kmsdpb.PolicyEntry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*policyRow).Entry)
	}
	return out, nil
}

func applySetPolicy(tx *memdb.Txn, c *applyCtx, body *kmsdpb.SetPolicy) ([]string, error) {
	if len(body.GetEntries()) == 0 {
		return nil, fmt.Errorf("%w: no policy entries", ErrMalformed)
	}
	if len(body.GetEntries()) > policy.MaxEntries {
		return nil, errTooManyEntries
	}
	cur, err := policyEntries(tx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]int, len(cur))
	for i, e := range cur {
		byName[e.GetName()] = i
	}
	names := make([]string, 0, len(body.GetEntries()))
	for _, e := range body.GetEntries() {
		e = proto.Clone(e).(*kmsdpb.PolicyEntry)
		e.UpdatedUnixNano, e.UpdatedBy = c.cmd.GetTimeUnixNano(), c.cmd.GetActor()
		if i, ok := byName[e.GetName()]; ok {
			cur[i] = e
		} else {
			byName[e.GetName()] = len(cur)
			cur = append(cur, e)
		}
		names = append(names, e.GetName())
	}
	if _, err := policy.Compile(cur); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicyRefused, err)
	}
	for _, e := range body.GetEntries() {
		e := cur[byName[e.GetName()]]
		if err := tx.Insert(tablePolicy, &policyRow{Name: e.GetName(), Entry: e}); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func applyDeletePolicyEntry(tx *memdb.Txn, c *applyCtx, body *kmsdpb.DeletePolicyEntry) ([]string, error) {
	if body.GetName() == "" {
		return nil, fmt.Errorf("%w: no policy entry name", ErrMalformed)
	}
	raw, err := tx.First(tablePolicy, indexID, body.GetName())
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrNoPolicyEntry
	}
	cur, err := policyEntries(tx)
	if err != nil {
		return nil, err
	}
	rest := make([]*kmsdpb.PolicyEntry, 0, len(cur))
	for _, e := range cur {
		if e.GetName() != body.GetName() {
			rest = append(rest, e)
		}
	}
	if _, err := policy.Compile(rest); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicyRefused, err)
	}
	if err := tx.Delete(tablePolicy, raw); err != nil {
		return nil, err
	}
	return []string{body.GetName()}, nil
}

// PolicyEntries returns the stored policy entries in name order. The
// entries are shared: callers must not modify them.
func (f *FSM) PolicyEntries() ([]*kmsdpb.PolicyEntry, error) {
	return policyEntries(f.readTxn())
}

// compiledPolicy is the policy compiled from one state of the policy table;
// changed closes when the table changes.
type compiledPolicy struct {
	db      *memdb.MemDB
	policy  *policy.Policy
	changed <-chan struct{}
}

// Policy returns the stored policy, compiled. It is compiled again only
// after the policy table changed, so that every request may ask for it.
func (f *FSM) Policy() (*policy.Policy, error) {
	f.mu.RLock()
	db := f.db
	f.mu.RUnlock()
	if c := f.policy.Load(); c != nil && c.db == db {
		select {
		case <-c.changed:
		default:
			return c.policy, nil
		}
	}
	tx := db.Txn(false)
	it, err := tx.Get(tablePolicy, indexID)
	if err != nil {
		return nil, err
	}
	var entries []*kmsdpb.PolicyEntry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		entries = append(entries, raw.(*policyRow).Entry)
	}
	p, err := policy.Compile(entries)
	if err != nil {
		// Apply and Restore admit only policies that compile.
		return nil, fmt.Errorf("fsm: stored policy: %w", err)
	}
	f.policy.Store(&compiledPolicy{db: db, policy: p, changed: it.WatchCh()})
	return p, nil
}

// policyCache holds the last compiled policy.
type policyCache = atomic.Pointer[compiledPolicy]

// EncodeSetPolicy builds the entry that adds or replaces policy entries.
func (f *FSM) EncodeSetPolicy(env *kmsdpb.Command, entries []*kmsdpb.PolicyEntry) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_SET_POLICY, env, &kmsdpb.SetPolicy{Entries: entries})
}

// EncodeDeletePolicyEntry builds the entry that removes a policy entry.
func (f *FSM) EncodeDeletePolicyEntry(env *kmsdpb.Command, name string) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_DELETE_POLICY_ENTRY, env, &kmsdpb.DeletePolicyEntry{Name: name})
}

func policyRecords(tx *memdb.Txn) ([]proto.Message, error) {
	entries, err := policyEntries(tx)
	if err != nil {
		return nil, err
	}
	out := make([]proto.Message, 0, len(entries))
	for _, e := range entries {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_PolicyEntry{PolicyEntry: e}})
	}
	return out, nil
}

// restorePolicyEntry inserts one entry of a snapshot; the whole policy is
// compiled once all records are in (checkRestoredPolicy).
func restorePolicyEntry(tx *memdb.Txn, e *kmsdpb.PolicyEntry) error {
	if raw, _ := tx.First(tablePolicy, indexID, e.GetName()); raw != nil {
		return fmt.Errorf("policy entry %q appears twice", e.GetName())
	}
	return tx.Insert(tablePolicy, &policyRow{Name: e.GetName(), Entry: e})
}

func checkRestoredPolicy(tx *memdb.Txn) error {
	entries, err := policyEntries(tx)
	if err != nil {
		return err
	}
	if _, err := policy.Compile(entries); err != nil {
		return fmt.Errorf("policy: %v", err)
	}
	return nil
}
