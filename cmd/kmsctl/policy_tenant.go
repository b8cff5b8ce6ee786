package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Tenant entries: a tenant's quota, named after the tenant, or after
// policy.DefaultQuotaEntry for every tenant without an entry of its own.

// tenantExample is the form of a tenant entry in a policy file.
const tenantExample = `{"name": "acme", "tenant": {"max_objects": 1000, "max_bytes": 1048576}}`

var quotaFields = []string{"max_objects", "max_bytes"}

// checkTenantShape checks the limits of a tenant entry as the file spells
// them, before protojson reads them, so that a negative, fractional or too
// large limit, or limits outside "tenant", get an answer that shows the
// form.
func checkTenantShape(entry map[string]any) error {
	for _, f := range quotaFields {
		if _, ok := entry[f]; ok {
			return fmt.Errorf("%q belongs inside \"tenant\": a tenant entry is %s", f, tenantExample)
		}
	}
	t, ok := entry["tenant"]
	if !ok {
		return nil
	}
	m, ok := t.(map[string]any)
	if !ok {
		return fmt.Errorf("\"tenant\" holds the limits, named by the entry's \"name\": a tenant entry is %s", tenantExample)
	}
	for _, f := range quotaFields {
		v := m[f]
		if v == nil {
			continue
		}
		var text string
		switch n := v.(type) {
		case json.Number:
			text = n.String()
		case string:
			text = n
		default:
			return fmt.Errorf("%q is %v: %s", f, v, quotaRange)
		}
		if _, err := parseQuota(text); err != nil {
			return fmt.Errorf("%q is %s: %w", f, text, err)
		}
	}
	return nil
}

var quotaRange = fmt.Sprintf("give a whole number from 0 (no limit) to %d", uint64(policy.MaxQuota))

// parseQuota reads one limit of a quota.
func parseQuota(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > policy.MaxQuota {
		return 0, errors.New(quotaRange)
	}
	return n, nil
}

// checkTenantEntry checks a tenant entry as the server does (its name is
// a tenant's, or "*"), in the server's words less their prefix.
func checkTenantEntry(e *kmsdpb.PolicyEntry) error {
	if err := policy.Check(e); err != nil {
		return errors.New(strings.Replace(err.Error(), "policy: invalid: ", "", 1))
	}
	return nil
}

// quotaLimit is a flag holding one limit of a quota.
type quotaLimit uint64

func (q *quotaLimit) String() string { return strconv.FormatUint(uint64(*q), 10) }
func (q *quotaLimit) Type() string   { return "N" }

func (q *quotaLimit) Set(s string) error {
	n, err := parseQuota(s)
	if err != nil {
		return err
	}
	*q = quotaLimit(n)
	return nil
}

// quotaFlags build one tenant entry from the command line.
type quotaFlags struct {
	tenant                string
	tenantSet             bool
	maxObjects, maxBytes  quotaLimit
	maxObjSet, maxByteSet bool
}

func (f *quotaFlags) set() bool { return f.tenantSet || f.maxObjSet || f.maxByteSet }

func (f *quotaFlags) entry() (*kmsdpb.PolicyEntry, error) {
	if !f.tenantSet {
		return nil, fmt.Errorf("--max-objects and --max-bytes set a tenant's quota: name the tenant with --tenant-quota TENANT (or %q for every tenant without a quota of its own)", policy.DefaultQuotaEntry)
	}
	e := &kmsdpb.PolicyEntry{Name: f.tenant, Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{
		MaxObjects: uint64(f.maxObjects), MaxBytes: uint64(f.maxBytes)}}}
	if err := checkTenantEntry(e); err != nil {
		return nil, fmt.Errorf("--tenant-quota: %w", err)
	}
	return e, nil
}

// tenantRow is how list and get show a tenant entry.
func tenantRow(e *kmsdpb.PolicyEntry, updated string) []string {
	tenant := e.GetName()
	if tenant == policy.DefaultQuotaEntry {
		tenant = "(any other)"
	}
	t := e.GetTenant()
	quota := "max_objects=" + limitText(t.GetMaxObjects()) + " max_bytes=" + limitText(t.GetMaxBytes())
	return []string{e.GetName(), "tenant", tenant, "-", quota, updated}
}

// marshalEntry writes an entry as a policy file holds it. protojson
// writes 64-bit integers as strings; a tenant entry's limits are written
// as numbers, both of them, as in a policy file and in policy usage.
func marshalEntry(e *kmsdpb.PolicyEntry) ([]byte, error) {
	b, err := entryJSON.Marshal(e)
	if err != nil || e.GetTenant() == nil {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	t := e.GetTenant()
	m["tenant"] = tenantLimits{MaxObjects: t.GetMaxObjects(), MaxBytes: t.GetMaxBytes()}
	return json.Marshal(m)
}

type tenantLimits struct {
	MaxObjects uint64 `json:"max_objects"`
	MaxBytes   uint64 `json:"max_bytes"`
}
