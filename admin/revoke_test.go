package admin_test

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/proto/adminpb"
)

func startRevocation(t *testing.T) (*admintest.FakeRevocation, *admintest.PKI, string) {
	t.Helper()
	pki := admintest.NewPKI(t)
	rev := admintest.NewFakeRevocation(pki.Admins.Cert())
	addr := admintest.Serve(t, admintest.NewFakeCluster(), pki.ServerTLS(t),
		admintest.Options{AdminCAs: pki.AdminCAs(), NodeCAs: pki.NodeCAs(), Revocation: rev})
	return rev, pki, addr
}

// TestListRevokedPages: the list comes in pages of limit entries; a
// negative offset or a limit beyond the maximum is refused.
func TestListRevokedPages(t *testing.T) {
	rev, pki, addr := startRevocation(t)
	c := adminpb.NewAdminClient(admintest.Dial(t, addr, pki.ClientTLS(t, admin.AdminOrganization)))
	entries := make([]denylist.Entry, 2500)
	for i := range entries {
		sum := sha256.Sum256([]byte(fmt.Sprint(i)))
		entries[i] = denylist.Entry{Fingerprint: sum[:]}
	}
	if _, err := rev.RevokeCertificates(t.Context(), entries, "test"); err != nil {
		t.Fatal(err)
	}
	var got int
	for _, tc := range []struct {
		offset int64
		limit  int32
		want   int
	}{{0, 0, 1000}, {1000, 1000, 1000}, {2000, 0, 500}, {2500, 0, 0}, {9999, 0, 0}} {
		resp, err := c.ListRevokedCertificates(t.Context(), &adminpb.ListRevokedCertificatesRequest{Offset: tc.offset, Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetEntries()) != tc.want || resp.GetTotal() != 2500 {
			t.Errorf("offset %d limit %d: %d entries of %d, want %d of 2500", tc.offset, tc.limit, len(resp.GetEntries()), resp.GetTotal(), tc.want)
		}
		got += len(resp.GetEntries())
	}
	if got != 2500 {
		t.Errorf("pages hold %d entries", got)
	}
	for _, req := range []*adminpb.ListRevokedCertificatesRequest{{Offset: -1}, {Limit: -1}, {Limit: 10_001}} {
		if _, err := c.ListRevokedCertificates(t.Context(), req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", req, err)
		}
	}
}

// TestRevokeCertificateForms: each way of naming a certificate, and the
// refusals of malformed ones.
func TestRevokeCertificateForms(t *testing.T) {
	rev, pki, addr := startRevocation(t)
	c := adminpb.NewAdminClient(admintest.Dial(t, addr, pki.ClientTLS(t, admin.AdminOrganization)))
	leaf := pki.Issue(t, "a client", nil)
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Clients.Cert().Raw})
	sum := sha256.Sum256(leaf.Certificate[0])
	for name, req := range map[string]*adminpb.RevokeCertificateRequest{
		"pem":         {Certificate: &adminpb.RevokeCertificateRequest_CertificatePem{CertificatePem: leafPEM}, Reason: "r"},
		"fingerprint": {Certificate: &adminpb.RevokeCertificateRequest_FingerprintSha256{FingerprintSha256: sum[:]}},
		"serial":      {Certificate: &adminpb.RevokeCertificateRequest_IssuerSerial{IssuerSerial: &adminpb.IssuerSerial{IssuerPem: caPEM, Serial: big.NewInt(77).Bytes()}}},
	} {
		if _, err := c.RevokeCertificate(t.Context(), req); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if list, _ := rev.RevokedCertificates(t.Context()); len(list) != 2 {
		t.Errorf("%d entries, want 2 (the PEM and its fingerprint are one)", len(list))
	}
	for name, req := range map[string]*adminpb.RevokeCertificateRequest{
		"nothing":       {},
		"not PEM":       {Certificate: &adminpb.RevokeCertificateRequest_CertificatePem{CertificatePem: []byte("x")}},
		"short sha":     {Certificate: &adminpb.RevokeCertificateRequest_FingerprintSha256{FingerprintSha256: sum[:5]}},
		"leaf issuer":   {Certificate: &adminpb.RevokeCertificateRequest_IssuerSerial{IssuerSerial: &adminpb.IssuerSerial{IssuerPem: leafPEM, Serial: []byte{1}}}},
		"no serial":     {Certificate: &adminpb.RevokeCertificateRequest_IssuerSerial{IssuerSerial: &adminpb.IssuerSerial{IssuerPem: caPEM}}},
		"long serial":   {Certificate: &adminpb.RevokeCertificateRequest_IssuerSerial{IssuerSerial: &adminpb.IssuerSerial{IssuerPem: caPEM, Serial: make([]byte, 33)}}},
		"long reason":   {Certificate: &adminpb.RevokeCertificateRequest_FingerprintSha256{FingerprintSha256: sum[:]}, Reason: string(make([]byte, 257))},
		"huge PEM file": {Certificate: &adminpb.RevokeCertificateRequest_CertificatePem{CertificatePem: make([]byte, 65<<10)}},
	} {
		if _, err := c.RevokeCertificate(t.Context(), req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	// Not an operator: a node certificate.
	node := adminpb.NewAdminClient(admintest.Dial(t, addr, pki.ClientTLS(t, "kmsd-nodes")))
	if _, err := node.ImportCRL(t.Context(), &adminpb.ImportCRLRequest{Crl: []byte("x")}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ImportCRL by a node: %v", err)
	}
}
