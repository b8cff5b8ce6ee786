// Package clustertest helps test cluster nodes in process: certificates for
// nodes and other roles, and a small replicated key-value state machine.
package clustertest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// AdminOrganization marks operators' certificates.
const AdminOrganization = "kmsd-admins"

// PKI holds in-memory CAs for kmsd's three trust domains: nodes, operators
// and KMIP clients. Node TLS trusts the node CA only.
type PKI struct {
	t testing.TB
	// NodeCA signs node certificates, AdminCA operators', ClientCA KMIP
	// clients'. Tests that forge a certificate of one domain claiming
	// another's role issue from them directly.
	NodeCA, AdminCA, ClientCA *devpki.Authority
}

// NewPKI creates the three CAs.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca := func(cn string) *devpki.Authority {
		a, err := devpki.NewAuthority(cn)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	return &PKI{t: t, NodeCA: ca("test node CA"), AdminCA: ca("test admin CA"), ClientCA: ca("test client CA")}
}

// NodeCert issues the certificate of node id from the node CA: Common Name
// id, Organization kmsd-nodes, URI SAN urn:kmsd:node:<id>, valid for
// 127.0.0.1 and localhost, usable by servers and clients.
func (p *PKI) NodeCert(id string) tls.Certificate {
	p.t.Helper()
	cert, err := p.NodeCA.IssueNode(id)
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}

// Cert issues a certificate for 127.0.0.1 and localhost with Common Name
// and Organization org, usable by servers and clients, from the CA of the
// domain org names: the node CA for kmsd-nodes (the Common Name is then
// the node id), the admin CA for kmsd-admins, the client CA otherwise.
func (p *PKI) Cert(org string) tls.Certificate {
	p.t.Helper()
	ca := p.ClientCA
	switch org {
	case cluster.NodeOrganization:
		ca = p.NodeCA
	case AdminOrganization:
		ca = p.AdminCA
	}
	cert, err := ca.Issue(org, []string{org})
	if err != nil {
		p.t.Fatal(err)
	}
	return cert
}

// NodeCAs are the node domain's trust anchors, for cluster.Config.NodeCAs.
func (p *PKI) NodeCAs() []*x509.Certificate { return []*x509.Certificate{p.NodeCA.Cert()} }

// ServerTLS presents cert and requires client certificates from the node CA.
func (p *PKI) ServerTLS(cert tls.Certificate) *tls.Config { return p.NodeCA.ServerTLS(cert) }

// ClientTLS presents cert and trusts the node CA.
func (p *PKI) ClientTLS(cert tls.Certificate) *tls.Config { return p.NodeCA.ClientTLS(cert) }
