package admin_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/proto/adminpb"
)

func TestAdminNeedsAdminOrganization(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetSnapshot([]byte("snapshot"))
	for _, org := range []string{"dev", admin.NodeOrganization, ""} {
		t.Run("O="+org, func(t *testing.T) {
			c := e.client(t, org)
			ctx := t.Context()
			_, err := c.Status(ctx, &adminpb.StatusRequest{})
			wantStatus(t, err, codes.PermissionDenied, "not authorised")
			_, err = c.Join(ctx, &adminpb.JoinRequest{Address: "10.0.0.9:5697"})
			wantStatus(t, err, codes.PermissionDenied, "not authorised")
			_, err = c.Members(ctx, &adminpb.MembersRequest{})
			wantStatus(t, err, codes.PermissionDenied, "not authorised")

			snap, err := c.Snapshot(ctx, &adminpb.SnapshotRequest{})
			if err == nil {
				_, err = snap.Recv()
			}
			wantStatus(t, err, codes.PermissionDenied, "not authorised")

			rs, err := c.Restore(ctx)
			if err == nil {
				_ = rs.Send(&adminpb.RestoreChunk{Data: []byte("x")})
				_, err = rs.CloseAndRecv()
			}
			wantStatus(t, err, codes.PermissionDenied, "not authorised")
		})
	}
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("cluster was called: %q", calls)
	}
}

func TestHealthOpenToAnyValidCertificate(t *testing.T) {
	e := start(t, admintest.Options{})
	for _, org := range []string{admin.AdminOrganization, admin.NodeOrganization, "dev", ""} {
		h := healthpb.NewHealthClient(admintest.Dial(t, e.addr, e.pki.ClientTLS(t, org)))
		for _, svc := range []string{"", admin.AdminServiceName} {
			resp, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil {
				t.Fatalf("O=%q service %q: %v", org, svc, err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("O=%q service %q: %v", org, svc, resp.GetStatus())
			}
		}
	}
}

func TestHealthNeedsTrustedCertificate(t *testing.T) {
	e := start(t, admintest.Options{})
	other := admintest.NewPKI(t) // a certificate from a CA the server does not trust
	cfg := other.ClientTLS(t, admin.AdminOrganization)
	cfg.RootCAs = e.pki.Pool
	h := healthpb.NewHealthClient(admintest.Dial(t, e.addr, cfg))
	if _, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("health check with an untrusted certificate succeeded")
	}
}

// TestPolicy: the longest matching prefix decides, and a registered service
// that no prefix matches is closed to everyone. (gRPC answers Unimplemented
// for unregistered services before any interceptor runs.)
func TestPolicy(t *testing.T) {
	const status, members = "/kmsd.admin.v1.Admin/Status", "/kmsd.admin.v1.Admin/Members"
	tests := []struct {
		name   string
		policy admin.Policy
		org    string
		method string
		code   codes.Code
	}{
		{"method rule wins for nodes", admin.Policy{admin.AdminServicePrefix: admin.AdminOrganization, status: admin.NodeOrganization},
			admin.NodeOrganization, status, codes.OK},
		{"method rule wins against admins", admin.Policy{admin.AdminServicePrefix: admin.AdminOrganization, status: admin.NodeOrganization},
			admin.AdminOrganization, status, codes.PermissionDenied},
		{"service rule for other methods", admin.Policy{admin.AdminServicePrefix: admin.AdminOrganization, status: admin.NodeOrganization},
			admin.AdminOrganization, members, codes.OK},
		{"no rule for the service", admin.Policy{"/kmsd.cluster.v1.Cluster/": admin.NodeOrganization},
			admin.AdminOrganization, status, codes.PermissionDenied},
		{"empty prefix ignored", admin.Policy{"": "dev"}, "dev", status, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, admintest.Options{Policy: tt.policy})
			conn := admintest.Dial(t, e.addr, e.pki.ClientTLS(t, tt.org))
			var err error
			if tt.method == status {
				err = conn.Invoke(t.Context(), tt.method, &adminpb.StatusRequest{}, &adminpb.StatusResponse{})
			} else {
				err = conn.Invoke(t.Context(), tt.method, &adminpb.MembersRequest{}, &adminpb.MembersResponse{})
			}
			if tt.code == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantStatus(t, err, tt.code, "not authorised")
		})
	}
}

func TestAuthorizeWithoutPeer(t *testing.T) {
	unary, stream := admin.RequireOrganization(admin.AdminOrganization)
	h := func(context.Context, any) (any, error) { return "ok", nil }
	_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/kmsd.admin.v1.Admin/Status"}, h)
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
	if got, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}, h); err != nil || got != "ok" {
		t.Errorf("health: %v, %v", got, err)
	}
	err = stream(nil, fakeStream{}, &grpc.StreamServerInfo{FullMethod: "/kmsd.admin.v1.Admin/Snapshot"},
		func(any, grpc.ServerStream) error { return nil })
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
}

type fakeStream struct{ grpc.ServerStream }

func (fakeStream) Context() context.Context { return context.Background() }
