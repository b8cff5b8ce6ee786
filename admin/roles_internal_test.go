package admin

import (
	"slices"
	"testing"

	"google.golang.org/grpc"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// TestMethodRolesTable: every method of the admin service is in the table,
// the table names no other, operators may call everything, and the other
// roles exactly what they are for.
func TestMethodRolesTable(t *testing.T) {
	g := grpc.NewServer()
	adminpb.RegisterAdminServer(g, &adminpb.UnimplementedAdminServer{})
	methods := map[string]bool{}
	for _, m := range g.GetServiceInfo()[AdminServiceName].Methods {
		methods[m.Name] = true
	}
	if len(methods) < 17 {
		t.Fatalf("found only %d admin methods", len(methods))
	}
	for m := range methods {
		roles, ok := methodRoles[m]
		if !ok {
			t.Errorf("admin method %s has no entry in methodRoles", m)
		}
		if !slices.Contains(roles, RoleOperator) {
			t.Errorf("operators may not call %s", m)
		}
	}
	for m := range methodRoles {
		if !methods[m] {
			t.Errorf("methodRoles names %s, which the admin service does not have", m)
		}
	}
	may := func(r Role) []string {
		var out []string
		for m, roles := range methodRoles {
			if slices.Contains(roles, r) {
				out = append(out, m)
			}
		}
		slices.Sort(out)
		return out
	}
	if got, want := may(RoleBackup), []string{"InspectSnapshot", "Snapshot", "Status"}; !slices.Equal(got, want) {
		t.Errorf("backup may call %v, want %v", got, want)
	}
	if got, want := may(RoleReadOnly), []string{"GetPolicy", "Keyring", "ListCertificates", "ListPolicy", "ListRevokedCertificates", "Members", "ResolveIdentity", "SealStatus", "Status", "TenantUsage"}; !slices.Equal(got, want) {
		t.Errorf("read-only may call %v, want %v", got, want)
	}
	if roleMayCall(RoleOperator, "/kmsd.cluster.v1.Cluster/Forward") || roleMayCall(RoleOperator, AdminServicePrefix+"NoSuchMethod") {
		t.Error("a method outside the table is allowed")
	}
}
