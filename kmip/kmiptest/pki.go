package kmiptest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/kmip/policy"
)

// PKI is an in-memory certificate authority for server tests: a server
// certificate for localhost and 127.0.0.1, and client certificates on demand.
type PKI struct {
	t      testing.TB
	ca     *devpki.Authority
	server tls.Certificate
}

// NewPKI creates a CA and a server certificate signed by it.
func NewPKI(t testing.TB, name string) *PKI {
	t.Helper()
	ca, err := devpki.NewAuthority(name)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("kmsd", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{t: t, ca: ca, server: server}
}

// ServerTLS requires and verifies client certificates from this CA.
func (p *PKI) ServerTLS() *tls.Config { return p.ca.ServerTLS(p.server) }

// ClientTLS trusts this CA and presents a certificate with Common Name cn;
// with cn empty it presents none.
func (p *PKI) ClientTLS(cn string) *tls.Config {
	var cert tls.Certificate
	if cn != "" {
		cert = p.ClientCert(cn)
	}
	cfg := p.ca.ClientTLS(cert)
	cfg.ServerName = "localhost"
	return cfg
}

// Identity is the identity of a client certificate of this CA with Common
// Name cn: the tenant its objects belong to when no policy entry names it.
func (p *PKI) Identity(cn string) string {
	return policy.Identity{CA: policy.Fingerprint(p.ca.Cert()), CommonName: cn}.String()
}

// CA returns the CA certificate.
func (p *PKI) CA() *x509.Certificate { return p.ca.Cert() }

// ClientCert issues a client certificate with Common Name cn.
func (p *PKI) ClientCert(cn string) tls.Certificate {
	p.t.Helper()
	cert, err := p.ca.Issue(cn, []string{"test"})
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}
