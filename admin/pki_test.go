package admin_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// fakeCA keeps the CA in memory and records issued certificates, setting
// their bindings through ap.
type fakeCA struct {
	ap    *admintest.AccessPolicy
	roots *x509.CertPool

	mu     sync.Mutex
	chain  []*x509.Certificate
	key    crypto.Signer
	issued []*kmsdpb.IssuedCertificate
}

func (f *fakeCA) Authority(context.Context) ([]*x509.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chain, nil
}

func (f *fakeCA) SetAuthority(_ context.Context, chain []*x509.Certificate, pkcs8 []byte, _ string) error {
	k, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chain, f.key = chain, k.(crypto.Signer)
	return nil
}

func (f *fakeCA) AuthorityKey(context.Context) (crypto.Signer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key, nil
}

func (f *fakeCA) Record(ctx context.Context, ic *kmsdpb.IssuedCertificate, b *kmsdpb.PolicyEntry, actor string) error {
	if err := f.ap.SetPolicy(ctx, []*kmsdpb.PolicyEntry{b}, actor); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = append(f.issued, ic)
	return nil
}

func (f *fakeCA) Issued(context.Context) ([]*kmsdpb.IssuedCertificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued, nil
}

func (f *fakeCA) ClientCAs() *x509.CertPool { return f.roots }

// newCA makes a self-signed CA (isCA false: a certificate that is no CA).
func newCA(t *testing.T, cn string, isCA bool) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

func TestCertificateAuthorityRPCs(t *testing.T) {
	trusted, trustedPEM, trustedKey := newCA(t, "trusted CA", true)
	_, strangerPEM, strangerKey := newCA(t, "stranger CA", true)
	_, leafPEM, leafKey := newCA(t, "not a CA", false)
	_, _, otherKey := newCA(t, "other", true)
	roots := x509.NewCertPool()
	roots.AddCert(trusted)
	ap := admintest.NewAccessPolicy()
	ca := &fakeCA{ap: ap, roots: roots}
	e := start(t, admintest.Options{AccessPolicy: ap, PKI: ca})
	c := e.client(t, admin.AdminOrganization)
	ctx := context.Background()

	_, err := c.IssueCertificate(ctx, &adminpb.IssueCertificateRequest{Tenant: "t", Role: policy.RoleUser, CommonName: "x"})
	wantStatus(t, err, codes.FailedPrecondition, "no certificate authority")
	for _, bad := range []struct {
		name      string
		cert, key []byte
		code      codes.Code
		msg       string
	}{
		{"untrusted", strangerPEM, strangerKey, codes.FailedPrecondition, "does not trust this CA"},
		{"not a CA", leafPEM, leafKey, codes.InvalidArgument, "not a CA certificate"},
		{"another key", trustedPEM, otherKey, codes.InvalidArgument, "does not belong"},
		{"no PEM", []byte("junk"), trustedKey, codes.InvalidArgument, "PEM certificates"},
	} {
		_, err := c.SetCertificateAuthority(ctx, &adminpb.SetCertificateAuthorityRequest{CertificatePem: bad.cert, KeyPem: bad.key})
		wantStatus(t, err, bad.code, bad.msg)
	}
	if _, err := c.SetCertificateAuthority(ctx, &adminpb.SetCertificateAuthorityRequest{CertificatePem: trustedPEM, KeyPem: trustedKey}); err != nil {
		t.Fatal(err)
	}

	resp, err := c.IssueCertificate(ctx, &adminpb.IssueCertificateRequest{Tenant: "vsphere", Role: policy.RoleUser, CommonName: "esx1", DnsNames: []string{"esx1.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(resp.GetCertificatePem())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the issued certificate does not verify as a client certificate: %v", err)
	}
	if cert.NotAfter.After(trusted.NotAfter) || cert.Subject.CommonName != "esx1" || cert.DNSNames[0] != "esx1.example.com" {
		t.Errorf("issued %v until %v", cert.Subject, cert.NotAfter)
	}
	kb, _ := pem.Decode(resp.GetKeyPem())
	if kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatal("no PKCS#8 key returned")
	}
	p, err := ap.FSM.Policy()
	if err != nil {
		t.Fatal(err)
	}
	id, err := policy.FromChain([]*x509.Certificate{cert, trusted})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Resolve(id); got.Tenant != "vsphere" || got.Role.Name != policy.RoleUser || got.Binding != "pki-esx1" {
		t.Errorf("the issued certificate resolves to %+v", got)
	}

	for _, bad := range []struct {
		name string
		req  *adminpb.IssueCertificateRequest
		msg  string
	}{
		{"bad tenant", &adminpb.IssueCertificateRequest{Tenant: "a b", Role: policy.RoleUser, CommonName: "x"}, "tenant"},
		{"missing role", &adminpb.IssueCertificateRequest{Tenant: "t", Role: "ghost", CommonName: "x"}, `names role "ghost"`},
		{"no name", &adminpb.IssueCertificateRequest{Tenant: "t", Role: policy.RoleUser}, "Common Name is required"},
		{"too long", &adminpb.IssueCertificateRequest{Tenant: "t", Role: policy.RoleUser, CommonName: "x", ValidityNanos: int64(10 * 365 * 24 * time.Hour)}, "validity"},
		{"bad CSR", &adminpb.IssueCertificateRequest{Tenant: "t", Role: policy.RoleUser, CsrPem: []byte("junk")}, "CSR"},
	} {
		_, err := c.IssueCertificate(ctx, bad.req)
		wantStatus(t, err, codes.InvalidArgument, bad.msg)
	}
	list, err := c.ListCertificates(ctx, &adminpb.ListCertificatesRequest{})
	if err != nil || len(list.GetCertificates()) != 1 || list.GetAuthorityFingerprint() != policy.Fingerprint(trusted) {
		t.Fatalf("list %v %v", list, err)
	}

	// Neither a KMIP client nor a node may issue.
	for _, org := range []string{"", admin.NodeOrganization} {
		_, err := e.client(t, org).IssueCertificate(ctx, &adminpb.IssueCertificateRequest{Tenant: "t", Role: policy.RoleAdmin, CommonName: "me"})
		wantStatus(t, err, codes.PermissionDenied, "")
	}
}
