package harness

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
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

// ClientCertFor writes a certificate of the KMIP CA with Common Name cn and
// DNS names dns to <Dir>/clients/<cn>.pem and .key, and returns the files.
func (p PKI) ClientCertFor(t testing.TB, cn string, dns ...string) (cert, key string) {
	t.Helper()
	paths := devpki.PathsIn(p.Dir)
	ca, err := devpki.LoadAuthority(paths.CACert, paths.CAKey)
	if err != nil {
		t.Fatalf("harness: client CA: %v", err)
	}
	c, err := ca.Issue(cn, nil, dns...)
	if err != nil {
		t.Fatalf("harness: client certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.Dir, "clients")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
