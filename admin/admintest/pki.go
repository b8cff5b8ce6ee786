package admintest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// ServerNodeID is the node id in the certificate that ServerTLS presents.
const ServerNodeID = "node-1"

// PKI is a throwaway PKI with kmsd's three trust domains, each with a CA of
// its own: KMIP clients, operators (admin API) and nodes. The server
// presents a node certificate, as a node's gRPC port does.
type PKI struct {
	// Pool trusts the node CA: clients verify the server with it.
	Pool *x509.CertPool
	// Clients, Admins and Nodes are the CAs of the three domains.
	Clients, Admins, Nodes *devpki.Authority
}

// NewPKI creates three fresh CAs.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca := func(cn string) *devpki.Authority {
		a, err := devpki.NewAuthority(cn)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	p := &PKI{Clients: ca("admintest client CA"), Admins: ca("admintest admin CA"), Nodes: ca("admintest node CA")}
	p.Pool = p.Nodes.Pool()
	return p
}

// AdminCAs are the admin domain's trust anchors.
func (p *PKI) AdminCAs() []*x509.Certificate { return []*x509.Certificate{p.Admins.Cert()} }

// NodeCAs are the node domain's trust anchors.
func (p *PKI) NodeCAs() []*x509.Certificate { return []*x509.Certificate{p.Nodes.Cert()} }

// Policy is admin.DefaultPolicy for this PKI's admin and node CAs.
func (p *PKI) Policy() admin.Policy { return admin.DefaultPolicy(p.AdminCAs(), p.NodeCAs()) }

// Issue returns a certificate with orgs in Subject O, valid for localhost,
// 127.0.0.1 and ::1, from the CA of the domain that orgs name: the admin CA
// for admin.AdminOrganization, the node CA for admin.NodeOrganization (a
// node certificate naming node id cn), the client CA otherwise.
func (p *PKI) Issue(t testing.TB, cn string, orgs []string) tls.Certificate {
	t.Helper()
	var cert tls.Certificate
	var err error
	switch {
	case len(orgs) == 1 && orgs[0] == admin.AdminOrganization:
		cert, err = p.Admins.Issue(cn, orgs)
	case len(orgs) == 1 && orgs[0] == admin.NodeOrganization:
		cert, err = p.Nodes.IssueNode(cn)
	default:
		cert, err = p.Clients.Issue(cn, orgs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// IssueFrom returns a certificate from ca with orgs in Subject O, whatever
// domain ca is: for tests of certificates that claim another domain's role.
func (p *PKI) IssueFrom(t testing.TB, ca *devpki.Authority, cn string, orgs []string) tls.Certificate {
	t.Helper()
	cert, err := ca.Issue(cn, orgs)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// ServerTLS presents a node certificate (node id ServerNodeID) and
// requires client certificates from any of the three CAs. kmsd's gRPC port
// accepts the admin and node CAs only; accepting the client CA here too
// leaves the refusal of a wrong domain's certificate to the interceptors,
// which are what these tests exercise.
func (p *PKI) ServerTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := p.Nodes.IssueNode(ServerNodeID)
	if err != nil {
		t.Fatal(err)
	}
	return devpki.ServerConfig(cert, devpki.NewPool(p.Clients.Cert(), p.Admins.Cert(), p.Nodes.Cert()))
}

// ClientTLS is a client configuration presenting a certificate with
// Organization org (none when org is ""), from the CA that Issue picks for
// it, and trusting the node CA.
func (p *PKI) ClientTLS(t testing.TB, org string) *tls.Config {
	t.Helper()
	var orgs []string
	cn := "client"
	if org != "" {
		orgs = []string{org}
		cn = "client-" + org
	}
	return p.ClientTLSWith(p.Issue(t, cn, orgs))
}

// ClientTLSWith presents cert and trusts the node CA.
func (p *PKI) ClientTLSWith(cert tls.Certificate) *tls.Config {
	return devpki.ClientConfig(cert, p.Pool)
}

// AdminTLS is a client configuration presenting an admin certificate
// (admin CA, Organization kmsd-admins) named cn with the organizational
// units ous, which carry its role, and trusting the node CA.
func (p *PKI) AdminTLS(t testing.TB, cn string, ous ...string) *tls.Config {
	t.Helper()
	cert, err := p.Admins.IssueUnits(cn, []string{admin.AdminOrganization}, ous)
	if err != nil {
		t.Fatal(err)
	}
	return p.ClientTLSWith(cert)
}
