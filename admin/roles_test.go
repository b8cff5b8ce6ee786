package admin_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/proto/adminpb"
)

func TestRoleOf(t *testing.T) {
	for _, tt := range []struct {
		ous  []string
		want admin.Role
	}{
		{nil, admin.RoleOperator},
		{[]string{"storage team"}, admin.RoleOperator},
		{[]string{"operator"}, admin.RoleOperator},
		{[]string{"backup"}, admin.RoleBackup},
		{[]string{"read-only"}, admin.RoleReadOnly},
		{[]string{"Read-Only"}, admin.RoleReadOnly},
		{[]string{"team", "read-only", "operator"}, admin.RoleReadOnly},
		{[]string{"backup", "operator"}, admin.RoleBackup},
	} {
		cert := &x509.Certificate{Subject: pkix.Name{CommonName: "x", OrganizationalUnit: tt.ous}}
		if got := admin.RoleOf(cert); got != tt.want {
			t.Errorf("RoleOf(OU=%q) = %q, want %q", tt.ous, got, tt.want)
		}
	}
	if got := admin.RoleOf(nil); got != "" {
		t.Errorf("RoleOf(nil) = %q", got)
	}
}

// call is one admin call, unary or stream, that the fake cluster answers.
type call struct {
	name string
	run  func(t *testing.T, c adminpb.AdminClient) error
}

var (
	callStatus = call{"Status", func(t *testing.T, c adminpb.AdminClient) error {
		_, err := c.Status(t.Context(), &adminpb.StatusRequest{})
		return err
	}}
	callMembers = call{"Members", func(t *testing.T, c adminpb.AdminClient) error {
		_, err := c.Members(t.Context(), &adminpb.MembersRequest{})
		return err
	}}
	callSnapshot = call{"Snapshot", func(t *testing.T, c adminpb.AdminClient) error {
		s, err := c.Snapshot(t.Context(), &adminpb.SnapshotRequest{})
		if err != nil {
			return err
		}
		for {
			if _, err := s.Recv(); err != nil {
				return eofIsOK(err)
			}
		}
	}}
	callRestore = call{"Restore", func(t *testing.T, c adminpb.AdminClient) error {
		s, err := c.Restore(t.Context())
		if err != nil {
			return err
		}
		_ = s.Send(&adminpb.RestoreChunk{Data: []byte("snapshot")})
		_, err = s.CloseAndRecv()
		return err
	}}
	callTransfer = call{"TransferLeadership", func(t *testing.T, c adminpb.AdminClient) error {
		_, err := c.TransferLeadership(t.Context(), &adminpb.TransferLeadershipRequest{Id: "n2"})
		return err
	}}
	callCreateToken = call{"CreateJoinToken", func(t *testing.T, c adminpb.AdminClient) error {
		_, err := c.CreateJoinToken(t.Context(), &adminpb.CreateJoinTokenRequest{})
		return err
	}}
)

// TestRolesOnAdminAPI: each role calls a method it may and one it may not.
func TestRolesOnAdminAPI(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetSnapshot([]byte("snapshot"))
	tests := []struct {
		role          string // Subject OU; "" for none
		allowed, deny []call
	}{
		{"", []call{callStatus, callTransfer, callRestore, callCreateToken}, nil},
		{"operator", []call{callStatus, callMembers, callSnapshot, callRestore, callTransfer}, nil},
		{"backup", []call{callStatus, callSnapshot}, []call{callMembers, callRestore, callTransfer, callCreateToken}},
		{"read-only", []call{callStatus, callMembers}, []call{callSnapshot, callRestore, callTransfer, callCreateToken}},
	}
	for _, tt := range tests {
		t.Run("OU="+tt.role, func(t *testing.T) {
			var ous []string
			if tt.role != "" {
				ous = []string{tt.role}
			}
			c := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "op-"+tt.role, ous...)))
			for _, cl := range tt.allowed {
				if err := cl.run(t, c); err != nil {
					t.Errorf("%s: %v", cl.name, err)
				}
			}
			for _, cl := range tt.deny {
				before := len(e.fake.Calls())
				err := cl.run(t, c)
				if code := statusCode(err); code != codes.PermissionDenied {
					t.Errorf("%s: %v, want PermissionDenied", cl.name, err)
				}
				if len(e.fake.Calls()) != before {
					t.Errorf("%s reached the cluster", cl.name)
				}
			}
		})
	}
}

// TestRolesOtherDomains: a KMIP client certificate and a node certificate
// call no admin method, whatever OU they carry.
func TestRolesOtherDomains(t *testing.T) {
	e := start(t, admintest.Options{})
	kmipClient, err := e.pki.Clients.IssueUnits("app", []string{admin.AdminOrganization}, []string{"operator"})
	if err != nil {
		t.Fatal(err)
	}
	node, err := e.pki.Nodes.IssueNode("node-2")
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]*tls.Config{
		"KMIP client": e.pki.ClientTLSWith(kmipClient),
		"node":        e.pki.ClientTLSWith(node),
	} {
		c := adminpb.NewAdminClient(admintest.Dial(t, e.addr, cfg))
		for _, cl := range []call{callStatus, callMembers, callTransfer} {
			if code := statusCode(cl.run(t, c)); code != codes.PermissionDenied {
				t.Errorf("%s calling %s: %v, want PermissionDenied", name, cl.name, code)
			}
		}
	}
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("cluster was called: %q", calls)
	}
}

func eofIsOK(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func statusCode(err error) codes.Code { return status.Code(err) }
