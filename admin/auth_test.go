package admin_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/clusterpb"
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

// TestAdminNeedsAdminCA: Organization kmsd-admins counts only on a
// certificate of the admin CA.
func TestAdminNeedsAdminCA(t *testing.T) {
	e := start(t, admintest.Options{})
	admins := []string{admin.AdminOrganization}
	for _, tt := range []struct {
		name string
		ca   *devpki.Authority
		code codes.Code
	}{
		{"admin CA", e.pki.Admins, codes.OK},
		{"client CA", e.pki.Clients, codes.PermissionDenied},
		{"node CA", e.pki.Nodes, codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.pki.ClientTLSWith(e.pki.IssueFrom(t, tt.ca, "alice", admins))
			_, err := adminpb.NewAdminClient(admintest.Dial(t, e.addr, cfg)).Status(t.Context(), &adminpb.StatusRequest{})
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

// TestAuthorizeTrustDomains walks certificates of every domain, genuine
// and forged, against the admin API and the node service, with the chains
// crypto/tls verifies against all three CAs.
func TestAuthorizeTrustDomains(t *testing.T) {
	pki := admintest.NewPKI(t)
	issue := func(ca *devpki.Authority, cn string, orgs ...string) tls.Certificate {
		return pki.IssueFrom(t, ca, cn, orgs)
	}
	node := func(ca *devpki.Authority, id string) tls.Certificate {
		c, err := ca.IssueNode(id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name        string
		cert        tls.Certificate
		admin, node bool
	}{
		{"admin of the admin CA", issue(pki.Admins, "alice", admin.AdminOrganization), true, false},
		{"node of the node CA", node(pki.Nodes, "n1"), false, true},
		{"node CA, Common Name id and O=kmsd-nodes", issue(pki.Nodes, "n2", admin.NodeOrganization), false, true},
		{"O=kmsd-admins from the client CA", issue(pki.Clients, "mallory", admin.AdminOrganization), false, false},
		{"O=kmsd-admins from the node CA", issue(pki.Nodes, "mallory", admin.AdminOrganization), false, false},
		{"node certificate from the admin CA", node(pki.Admins, "n1"), false, false},
		{"node certificate from the client CA", node(pki.Clients, "n1"), false, false},
		{"O=kmsd-nodes from the client CA", issue(pki.Clients, "n1", admin.NodeOrganization), false, false},
		{"node CA certificate naming no node id", issue(pki.Nodes, "not a node id", admin.NodeOrganization), false, false},
		{"node CA certificate without organization", issue(pki.Nodes, "n1"), false, false},
		{"KMIP client", issue(pki.Clients, "dev-client", "dev"), false, false},
	}
	unary, _ := admin.Authorize(pki.Policy(), admintest.Logger(t))
	roots := devpki.NewPool(pki.Clients.Cert(), pki.Admins.Cert(), pki.Nodes.Cert())
	call := func(ctx context.Context, method string) bool {
		_, err := unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(context.Context, any) (any, error) { return nil, nil })
		return err == nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chains, err := tt.cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := peer.NewContext(t.Context(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: chains}}})
			if got := call(ctx, "/kmsd.admin.v1.Admin/Status"); got != tt.admin {
				t.Errorf("admin API allowed = %v, want %v", got, tt.admin)
			}
			if got := call(ctx, "/kmsd.cluster.v1.Cluster/Forward"); got != tt.node {
				t.Errorf("node service allowed = %v, want %v", got, tt.node)
			}
			if !call(ctx, "/grpc.health.v1.Health/Check") {
				t.Error("health refused a verified certificate")
			}
		})
	}
}

// TestDefaultPolicyPrefixes: the policy's prefixes are the generated
// services' names.
func TestDefaultPolicyPrefixes(t *testing.T) {
	g := grpc.NewServer()
	adminpb.RegisterAdminServer(g, &adminpb.UnimplementedAdminServer{})
	clusterpb.RegisterClusterServer(g, &clusterpb.UnimplementedClusterServer{})
	p := admin.DefaultPolicy(nil, nil)
	for name := range g.GetServiceInfo() {
		if _, ok := p["/"+name+"/"]; !ok {
			t.Errorf("DefaultPolicy has no rule for %s", name)
		}
	}
	if _, ok := g.GetServiceInfo()[admin.AdminServiceName]; !ok {
		t.Errorf("AdminServiceName %s is not the admin service's name", admin.AdminServiceName)
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
	pki := admintest.NewPKI(t)
	admins, nodes := admin.AdminRule(pki.AdminCAs()), admin.NodeRule(pki.NodeCAs())
	tests := []struct {
		name   string
		policy admin.Policy
		org    string
		method string
		code   codes.Code
	}{
		{"method rule wins for nodes", admin.Policy{admin.AdminServicePrefix: admins, status: nodes},
			admin.NodeOrganization, status, codes.OK},
		{"method rule wins against admins", admin.Policy{admin.AdminServicePrefix: admins, status: nodes},
			admin.AdminOrganization, status, codes.PermissionDenied},
		{"service rule for other methods", admin.Policy{admin.AdminServicePrefix: admins, status: nodes},
			admin.AdminOrganization, members, codes.OK},
		{"no rule for the service", admin.Policy{admin.NodeServicePrefix: nodes},
			admin.AdminOrganization, status, codes.PermissionDenied},
		{"empty prefix ignored", admin.Policy{"": {Anchors: pki.AdminCAs()}}, admin.AdminOrganization, status, codes.PermissionDenied},
		{"rule without anchors", admin.Policy{admin.AdminServicePrefix: admin.AdminRule(nil)},
			admin.AdminOrganization, status, codes.PermissionDenied},
		{"rule without organization", admin.Policy{admin.AdminServicePrefix: {Anchors: pki.AdminCAs()}},
			admin.AdminOrganization, status, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{fake: admintest.NewFakeCluster(), pki: pki}
			e.addr = pki.Serve(t, e.fake, admintest.Options{Policy: tt.policy})
			conn := admintest.Dial(t, e.addr, pki.ClientTLS(t, tt.org))
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
	pki := admintest.NewPKI(t)
	unary, stream := admin.Authorize(pki.Policy(), nil)
	h := func(context.Context, any) (any, error) { return "ok", nil }
	for _, method := range []string{"/kmsd.admin.v1.Admin/Status", "/kmsd.cluster.v1.Cluster/Forward"} {
		_, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, h)
		wantStatus(t, err, codes.PermissionDenied, "not authorised")
	}
	if got, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}, h); err != nil || got != "ok" {
		t.Errorf("health: %v, %v", got, err)
	}
	err := stream(nil, fakeStream{}, &grpc.StreamServerInfo{FullMethod: "/kmsd.admin.v1.Admin/Snapshot"},
		func(any, grpc.ServerStream) error { return nil })
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
}

type fakeStream struct{ grpc.ServerStream }

func (fakeStream) Context() context.Context { return context.Background() }
