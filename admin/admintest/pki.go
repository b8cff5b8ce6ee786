package admintest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// PKI is a test CA that issues server and client certificates in memory.
type PKI struct {
	Pool *x509.CertPool
	ca   *devpki.Authority
}

// NewPKI creates a fresh CA.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := devpki.NewAuthority("admintest CA")
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{Pool: ca.Pool(), ca: ca}
}

// Issue returns a certificate signed by the CA, valid for localhost,
// 127.0.0.1 and ::1; orgs go into Subject O.
func (p *PKI) Issue(t testing.TB, cn string, orgs []string) tls.Certificate {
	t.Helper()
	cert, err := p.ca.Issue(cn, orgs)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// ServerTLS is a server configuration that requires and verifies client
// certificates from this CA, as kmsd's admin listener does.
func (p *PKI) ServerTLS(t testing.TB) *tls.Config {
	t.Helper()
	return p.ca.ServerTLS(p.Issue(t, "kmsd", []string{"kmsd-nodes"}))
}

// ClientTLS is a client configuration presenting a certificate with
// Organization org (none when org is "") and trusting this CA.
func (p *PKI) ClientTLS(t testing.TB, org string) *tls.Config {
	t.Helper()
	var orgs []string
	if org != "" {
		orgs = []string{org}
	}
	return p.ca.ClientTLS(p.Issue(t, "client-"+org, orgs))
}
