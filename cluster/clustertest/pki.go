// Package clustertest helps test cluster nodes in process: certificates for
// nodes and other roles, and a small replicated key-value state machine.
package clustertest

import (
	"crypto/tls"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// PKI is an in-memory certificate authority.
type PKI struct {
	t  testing.TB
	ca *devpki.Authority
}

// NewPKI creates a CA.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := devpki.NewAuthority("test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{t: t, ca: ca}
}

// Cert issues a certificate for 127.0.0.1 and localhost with the given
// Organization, usable by servers and clients.
func (p *PKI) Cert(org string) tls.Certificate {
	p.t.Helper()
	cert, err := p.ca.Issue(org, []string{org})
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}

// ServerTLS requires and verifies client certificates from this CA.
func (p *PKI) ServerTLS(cert tls.Certificate) *tls.Config { return p.ca.ServerTLS(cert) }

// ClientTLS presents cert and trusts this CA.
func (p *PKI) ClientTLS(cert tls.Certificate) *tls.Config { return p.ca.ClientTLS(cert) }
