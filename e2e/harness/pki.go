package harness

import (
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// WritePKI writes a development PKI into dir exactly as `kmsd dev` does, so
// that `kmsctl --dev-dir` finds it in <parent>/pki: three CAs, one per trust
// domain. The KMIP CA (ca.pem) signs the KMIP server certificate (server.pem,
// valid for localhost, 127.0.0.1, ::1 and hosts) and client.pem; the admin
// CA (admin-ca.pem) signs admin.pem (Organization kmsd-admins); the node CA
// (node-ca.pem) signs the node certificates that NodeCert writes. gossip.key
// holds the gossip key.
func WritePKI(t testing.TB, dir string, hosts ...string) PKI {
	t.Helper()
	p, err := devpki.Ensure(dir, hosts...)
	if err != nil {
		t.Fatalf("harness: PKI: %v", err)
	}
	return pkiFiles(p)
}

func pkiFiles(p devpki.Paths) PKI {
	return PKI{
		Dir: p.Dir, CA: p.CACert, ServerCert: p.ServerCert, ServerKey: p.ServerKey,
		ClientCert: p.ClientCert, ClientKey: p.ClientKey,
		AdminCA: p.AdminCACert, AdminCert: p.AdminCert, AdminKey: p.AdminKey,
		NodeCA: p.NodeCACert, GossipKey: p.GossipKey,
	}
}

// NodeCert writes, unless it exists, the certificate of node id from the
// node CA (Common Name id, Organization kmsd-nodes, URI SAN
// urn:kmsd:node:<id>; valid for localhost, 127.0.0.1, ::1 and hosts) and
// returns its certificate and key files, <Dir>/nodes/<id>.pem and .key.
func (p PKI) NodeCert(t testing.TB, id string, hosts ...string) (cert, key string) {
	t.Helper()
	cert, key, err := devpki.EnsureNode(devpki.PathsIn(p.Dir), id, hosts...)
	if err != nil {
		t.Fatalf("harness: node certificate: %v", err)
	}
	return cert, key
}
