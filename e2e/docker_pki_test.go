package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dockerPKI names the files writeDockerPKI makes. The names are those of
// `kmsd dev` (cmd/internal/devpki, which e2e cannot import), so the parent
// of Dir works as kmsctl's --dev-dir.
type dockerPKI struct {
	Dir                            string
	CA, ServerCert, ServerKey      string
	ClientCert, ClientKey          string
	AdminCert, AdminKey, GossipKey string

	serverIPs []net.IP
	caCert    *x509.Certificate
	caKey     *ecdsa.PrivateKey
}

// writeDockerPKI writes a CA, a node certificate (Organization kmsd-nodes,
// server and client auth, SANs localhost, 127.0.0.1, ::1 and ips: nodes
// verify each other by the IP they dial), a KMIP client certificate, an
// admin certificate (Organization kmsd-admins) and a 32-byte gossip key into
// dir. Keys are 0600, certificates 0644.
func writeDockerPKI(t *testing.T, dir string, ips ...net.IP) dockerPKI {
	t.Helper()
	j := func(name string) string { return filepath.Join(dir, name) }
	p := dockerPKI{
		Dir: dir, CA: j("ca.pem"), ServerCert: j("server.pem"), ServerKey: j("server.key"),
		ClientCert: j("client.pem"), ClientKey: j("client.key"),
		AdminCert: j("admin.pem"), AdminKey: j("admin.key"), GossipKey: j("gossip.key"),
		serverIPs: append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, ips...),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p.caKey = newECKey(t)
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "kmsd docker e2e CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der := signCert(t, ca, ca, p.caKey, p.caKey)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert = cert
	writePEMFile(t, p.CA, "CERTIFICATE", der, 0o644)

	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	clientOnly := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	p.leaf(t, p.ServerCert, p.ServerKey, "kmsd", "kmsd-nodes", both, true)
	p.leaf(t, p.ClientCert, p.ClientKey, "docker-client", "docker-e2e", clientOnly, false)
	p.leaf(t, p.AdminCert, p.AdminKey, "docker-admin", "kmsd-admins", clientOnly, false)

	gossip := make([]byte, 32)
	if _, err := rand.Read(gossip); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.GossipKey, gossip, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p dockerPKI) leaf(t *testing.T, certFile, keyFile, cn, org string, usage []x509.ExtKeyUsage, server bool) {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{org}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usage,
	}
	if server {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = p.serverIPs
	}
	key := newECKey(t)
	der := signCert(t, tmpl, p.caCert, key, p.caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEMFile(t, keyFile, "PRIVATE KEY", keyDER, 0o600)
	writePEMFile(t, certFile, "CERTIFICATE", der, 0o644)
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func signCert(t *testing.T, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	// Backdated, so that a certificate made a moment ago is valid to
	// every verifier.
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return der
}

func writePEMFile(t *testing.T, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}
