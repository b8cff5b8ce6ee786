package admin_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

const someCA = "0123456789abcdef0123456789abcdef"

func bindingEntry(name, tenant, role, cn string) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{
		Identities: []*kmsdpb.IdentityMatch{{Ca: someCA, CommonName: cn}}, Tenant: tenant, Role: role}}}
}

func TestPolicyRPCs(t *testing.T) {
	ap := admintest.NewAccessPolicy()
	e := start(t, admintest.Options{AccessPolicy: ap})
	c := e.client(t, admin.AdminOrganization)
	ctx := context.Background()

	role := &kmsdpb.PolicyEntry{Name: "reader", Entry: &kmsdpb.PolicyEntry_Role{Role: &kmsdpb.PolicyRole{Operations: []string{"Get", "Locate"}}}}
	if _, err := c.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{bindingEntry("hosts", "vsphere", "reader", "esx*"), role}}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListPolicy(ctx, &adminpb.ListPolicyRequest{})
	if err != nil || len(list.GetEntries()) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	got, err := c.GetPolicy(ctx, &adminpb.GetPolicyRequest{Name: "hosts"})
	if err != nil || got.GetEntry().GetBinding().GetTenant() != "vsphere" || got.GetEntry().GetUpdatedBy() == "" {
		t.Fatalf("get %v %v", got, err)
	}
	_, err = c.GetPolicy(ctx, &adminpb.GetPolicyRequest{Name: "nope"})
	wantStatus(t, err, codes.NotFound, `no policy entry "nope"`)

	// Mistakes are refused with what to fix, and change nothing.
	_, err = c.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{bindingEntry("b", "t", "auditor", "x")}})
	wantStatus(t, err, codes.InvalidArgument, `names role "auditor"`)
	_, err = c.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{bindingEntry("b", "bad tenant", policy.RoleUser, "x")}})
	wantStatus(t, err, codes.InvalidArgument, "invalid policy: tenant")
	_, err = c.SetPolicy(ctx, &adminpb.SetPolicyRequest{})
	wantStatus(t, err, codes.InvalidArgument, "give 1 to")
	_, err = c.DeletePolicy(ctx, &adminpb.DeletePolicyRequest{Name: "reader"})
	wantStatus(t, err, codes.FailedPrecondition, `names role "reader"`)
	_, err = c.DeletePolicy(ctx, &adminpb.DeletePolicyRequest{Name: "ghost"})
	wantStatus(t, err, codes.NotFound, "no policy entry")
	if entries, _ := ap.FSM.PolicyEntries(); len(entries) != 2 {
		t.Fatalf("refused changes altered the policy: %v", entries)
	}

	if _, err := c.DeletePolicy(ctx, &adminpb.DeletePolicyRequest{Name: "hosts"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeletePolicy(ctx, &adminpb.DeletePolicyRequest{Name: "reader"}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := ap.FSM.PolicyEntries(); len(entries) != 0 {
		t.Fatalf("after deleting: %v", entries)
	}
}

func TestResolveIdentity(t *testing.T) {
	ap := admintest.NewAccessPolicy()
	e := start(t, admintest.Options{AccessPolicy: ap})
	c := e.client(t, admin.AdminOrganization)
	ctx := context.Background()
	leafCert := e.pki.Issue(t, "esx1", nil)
	leaf, issuer := leafCert.Certificate[0], e.pki.Admins.Cert()
	fp := policy.Fingerprint(issuer)

	res, err := c.ResolveIdentity(ctx, &adminpb.ResolveIdentityRequest{Certificate: leaf, Issuer: issuer.Raw})
	if err != nil || res.GetIdentity() != "cn:esx1@"+fp[:32] || res.GetTenant() != res.GetIdentity() || res.GetRole() != policy.RoleUser || res.GetBinding() != "" {
		t.Fatalf("resolve without policy: %v %v", res, err)
	}
	b := bindingEntry("esx", "vsphere", policy.RoleAdmin, "esx*")
	b.GetBinding().Identities[0].Ca = fp
	if _, err := c.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{b}}); err != nil {
		t.Fatal(err)
	}
	res, err = c.ResolveIdentity(ctx, &adminpb.ResolveIdentityRequest{Certificate: leaf, Issuer: issuer.Raw})
	if err != nil || res.GetTenant() != "vsphere" || res.GetRole() != policy.RoleAdmin || res.GetBinding() != "esx" {
		t.Fatalf("resolve with a binding: %v %v", res, err)
	}
	_, err = c.ResolveIdentity(ctx, &adminpb.ResolveIdentityRequest{Certificate: []byte("junk"), Issuer: issuer.Raw})
	wantStatus(t, err, codes.InvalidArgument, "not a DER X.509 certificate")
}

// TestPolicyRPCsNeedAnOperator: a KMIP client certificate and a node
// certificate are refused.
func TestPolicyRPCsNeedAnOperator(t *testing.T) {
	e := start(t, admintest.Options{AccessPolicy: admintest.NewAccessPolicy()})
	for _, org := range []string{"", admin.NodeOrganization} {
		c := e.client(t, org)
		_, err := c.ListPolicy(context.Background(), &adminpb.ListPolicyRequest{})
		wantStatus(t, err, codes.PermissionDenied, "")
		_, err = c.SetPolicy(context.Background(), &adminpb.SetPolicyRequest{Entries: []*kmsdpb.PolicyEntry{bindingEntry("b", "t", policy.RoleAdmin, "me")}})
		wantStatus(t, err, codes.PermissionDenied, "")
	}
}

func TestPolicyUnavailableWithoutStore(t *testing.T) {
	e := start(t, admintest.Options{})
	_, err := e.client(t, admin.AdminOrganization).ListPolicy(context.Background(), &adminpb.ListPolicyRequest{})
	wantStatus(t, err, codes.Unimplemented, "keeps no access policy")
}
