package admin_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func tenantEntry(name string, objects, bytes uint64) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: objects, MaxBytes: bytes}}}
}

// createKeys stores n keys of tenant with 100 bytes of sealed material each.
func createKeys(t *testing.T, ap *admintest.AccessPolicy, tenant string, n int) {
	t.Helper()
	for i := range n {
		if err := ap.CreateKey(tenant, fmt.Sprintf("%s-%d", tenant, i), make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
}

func usageOf(t *testing.T, c adminpb.AdminClient, tenant string) []*adminpb.TenantUsage {
	t.Helper()
	resp, err := c.TenantUsage(t.Context(), &adminpb.TenantUsageRequest{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetTenants()
}

func wantUsage(t *testing.T, got []*adminpb.TenantUsage, want ...*adminpb.TenantUsage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d tenants %v, want %v", len(got), got, want)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("tenant %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestTenantUsage(t *testing.T) {
	ap := admintest.NewAccessPolicy()
	e := start(t, admintest.Options{AccessPolicy: ap, Usage: ap})
	c := e.client(t, admin.AdminOrganization)

	// Nothing stored and no quota: zeros for a named tenant, no tenants
	// otherwise.
	wantUsage(t, usageOf(t, c, "vsphere"), &adminpb.TenantUsage{Tenant: "vsphere"})
	wantUsage(t, usageOf(t, c, ""))

	createKeys(t, ap, "vsphere", 3)
	createKeys(t, ap, "apps", 1)
	vsphere, apps := ap.FSM.TenantUsage("vsphere"), ap.FSM.TenantUsage("apps")
	if vsphere.Objects != 3 || vsphere.Bytes < 300 || apps.Objects != 1 || apps.Bytes < 100 {
		t.Fatalf("the state machine counts vsphere %+v, apps %+v", vsphere, apps)
	}
	wantUsage(t, usageOf(t, c, "vsphere"), &adminpb.TenantUsage{Tenant: "vsphere", Objects: 3, Bytes: vsphere.Bytes})

	// A tenant's own entry, and "*" for tenants without one.
	if _, err := c.SetPolicy(t.Context(), &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{
		tenantEntry("vsphere", 10, 1<<20), tenantEntry("backup", 0, 4096), tenantEntry("*", 5, 0),
	}}); err != nil {
		t.Fatal(err)
	}
	wantUsage(t, usageOf(t, c, "vsphere"),
		&adminpb.TenantUsage{Tenant: "vsphere", Objects: 3, Bytes: vsphere.Bytes, MaxObjects: 10, MaxBytes: 1 << 20, QuotaEntry: "vsphere"})
	wantUsage(t, usageOf(t, c, "nobody"), &adminpb.TenantUsage{Tenant: "nobody", MaxObjects: 5, QuotaEntry: "*"})

	// Every tenant that holds objects or has an entry, in order; "*" is
	// no tenant.
	wantUsage(t, usageOf(t, c, ""),
		&adminpb.TenantUsage{Tenant: "apps", Objects: 1, Bytes: apps.Bytes, MaxObjects: 5, QuotaEntry: "*"},
		&adminpb.TenantUsage{Tenant: "backup", MaxBytes: 4096, QuotaEntry: "backup"},
		&adminpb.TenantUsage{Tenant: "vsphere", Objects: 3, Bytes: vsphere.Bytes, MaxObjects: 10, MaxBytes: 1 << 20, QuotaEntry: "vsphere"})

	// The answer follows the state machine.
	createKeys(t, ap, "backup", 2)
	got := usageOf(t, c, "backup")
	if len(got) != 1 || got[0].GetObjects() != 2 || got[0].GetBytes() != ap.FSM.TenantUsage("backup").Bytes || got[0].GetBytes() < 200 {
		t.Errorf("after two creates: %v", got)
	}

	_, err := c.TenantUsage(t.Context(), &adminpb.TenantUsageRequest{Tenant: strings.Repeat("t", 1025)})
	wantStatus(t, err, codes.InvalidArgument, "at most 1024 bytes")
}

// countingUsage counts the calls that reached the state machine.
type countingUsage struct {
	admin.UsageSource
	calls atomic.Int32
}

func (u *countingUsage) Accounting(ctx context.Context) (admin.Accounting, error) {
	u.calls.Add(1)
	return u.UsageSource.Accounting(ctx)
}

// TestTenantUsageRoles: operators and read-only operators may read the
// usage; a backup operator, and certificates of no admin or of another
// trust domain, are refused before the state machine is read.
func TestTenantUsageRoles(t *testing.T) {
	usage := &countingUsage{UsageSource: admintest.NewAccessPolicy()}
	e := start(t, admintest.Options{Usage: usage})
	call := func(t *testing.T, c adminpb.AdminClient) error {
		_, err := c.TenantUsage(t.Context(), &adminpb.TenantUsageRequest{})
		return err
	}
	for _, ou := range []string{"operator", "read-only"} {
		if err := call(t, adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "op-"+ou, ou)))); err != nil {
			t.Errorf("OU=%s: %v", ou, err)
		}
	}
	if n := usage.calls.Load(); n != 2 {
		t.Fatalf("the allowed calls read the state machine %d times", n)
	}

	kmipClient, err := e.pki.Clients.IssueUnits("app", []string{admin.AdminOrganization}, []string{"operator"})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]adminpb.AdminClient{
		"OU=backup":               adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "op-backup", "backup"))),
		"no Organization":         e.client(t, ""),
		"node":                    e.client(t, admin.NodeOrganization),
		"KMIP client, kmsd-admin": adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.ClientTLSWith(kmipClient))),
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, call(t, c), codes.PermissionDenied, "not authorised")
		})
	}
	if n := usage.calls.Load(); n != 2 {
		t.Errorf("refused calls read the state machine: %d reads", n)
	}
}

func TestTenantUsageUnavailableWithoutSource(t *testing.T) {
	e := start(t, admintest.Options{})
	_, err := e.client(t, admin.AdminOrganization).TenantUsage(t.Context(), &adminpb.TenantUsageRequest{})
	wantStatus(t, err, codes.Unimplemented, "keeps no tenant usage")
}
