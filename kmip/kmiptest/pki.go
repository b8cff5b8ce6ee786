package kmiptest

import (
	"crypto/tls"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
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

// ClientCert issues a client certificate with Common Name cn.
func (p *PKI) ClientCert(cn string) tls.Certificate {
	p.t.Helper()
	cert, err := p.ca.Issue(cn, []string{"test"})
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}
