package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func tenantEntry(name string, objects, bytes uint64) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: objects, MaxBytes: bytes}}}
}

func TestQuota(t *testing.T) {
	p, err := Compile([]*kmsdpb.PolicyEntry{
		tenantEntry("vsphere", 100, 1<<20),
		tenantEntry("unlimited", 0, 0),
		tenantEntry(DefaultQuotaEntry, 10, 0),
		// An entry of another kind named after a tenant is no quota.
		bindingEntry("backup", "backup", RoleUser, &kmsdpb.IdentityMatch{Ca: caA, CommonName: "b"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant string
		want   Quota
	}{
		{"vsphere", Quota{MaxObjects: 100, MaxBytes: 1 << 20, Entry: "vsphere"}},
		{"unlimited", Quota{Entry: "unlimited"}},
		{"backup", Quota{MaxObjects: 10, Entry: DefaultQuotaEntry}},
		{"cn:alice@" + caA[:32], Quota{MaxObjects: 10, Entry: DefaultQuotaEntry}},
	} {
		if got := p.Quota(c.tenant); got != c.want {
			t.Errorf("Quota(%q) = %+v, want %+v", c.tenant, got, c.want)
		}
	}
	if got := len(p.Tenants()); got != 3 {
		t.Errorf("Tenants: %d names, want 3", got)
	}

	plain, err := Compile([]*kmsdpb.PolicyEntry{tenantEntry("vsphere", 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Quota("other"); got != (Quota{}) {
		t.Errorf("without a default quota: %+v, want none", got)
	}
	var none *Policy
	if got := none.Quota("vsphere"); got != (Quota{}) {
		t.Errorf("nil policy: %+v", got)
	}
}

func TestQuotaOfReadsTheGivenEntries(t *testing.T) {
	stored := map[string]*kmsdpb.PolicyEntry{"t": tenantEntry("t", 5, 6)}
	got := QuotaOf("t", func(name string) *kmsdpb.PolicyEntry { return stored[name] })
	if got != (Quota{MaxObjects: 5, MaxBytes: 6, Entry: "t"}) {
		t.Fatalf("QuotaOf: %+v", got)
	}
}

func TestCompileRefusesTenantEntries(t *testing.T) {
	for _, c := range []struct {
		name  string
		entry *kmsdpb.PolicyEntry
		want  string
	}{
		{"bad tenant name", tenantEntry("a:b", 1, 1), "tenant"},
		{"too long", tenantEntry(strings.Repeat("t", 65), 1, 1), "tenant"},
		{"named default", tenantEntry(DefaultEntry, 1, 1), "default binding"},
		{"objects over the bound", tenantEntry("t", MaxQuota+1, 0), "max_objects"},
		{"bytes over the bound", tenantEntry("t", 0, MaxQuota+1), "max_bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.entry)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check: %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
	// "*" names only the default quota.
	if err := Check(bindingEntry(DefaultQuotaEntry, "t", RoleUser, &kmsdpb.IdentityMatch{Ca: caA, CommonName: "x"})); !errors.Is(err, ErrInvalid) {
		t.Errorf("a binding named %q: %v", DefaultQuotaEntry, err)
	}
	if err := Check(tenantEntry("t", MaxQuota, MaxQuota)); err != nil {
		t.Errorf("limits at the bound: %v", err)
	}
	if _, err := Compile([]*kmsdpb.PolicyEntry{tenantEntry("t", 1, 1), bindingEntry("t", "t", RoleUser, &kmsdpb.IdentityMatch{Ca: caA, CommonName: "x"})}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a tenant entry and a binding of one name: %v", err)
	}
}
