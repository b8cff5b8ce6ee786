package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certificate Organizations the server tells identities apart by. They
// mirror cmd/internal/devpki, which e2e cannot import: a node (Raft, gossip,
// the node-to-node gRPC service and the KMIP listener), a KMIP client, and
// an operator of the admin API.
const (
	NodeOrg   = "kmsd-nodes"
	ClientOrg = "dev"
	AdminOrg  = "kmsd-admins"
)

// WritePKI writes a development PKI into dir (created 0700) under the file
// names `kmsd dev` uses (ca.pem, server.pem/key, client.pem/key,
// admin.pem/key, gossip.key), so that `kmsctl --dev-dir` finds it in
// <parent>/pki. The server certificate is valid for 127.0.0.1, ::1 and
// localhost and for both TLS roles, since nodes also dial each other.
func WritePKI(t testing.TB, dir string) PKI {
	t.Helper()
	p, err := writePKI(dir)
	if err != nil {
		t.Fatalf("harness: PKI: %v", err)
	}
	return p
}

func writePKI(dir string) (PKI, error) {
	j := func(name string) string { return filepath.Join(dir, name) }
	p := PKI{
		CA: j("ca.pem"), ServerCert: j("server.pem"), ServerKey: j("server.key"),
		ClientCert: j("client.pem"), ClientKey: j("client.key"),
		AdminCert: j("admin.pem"), AdminKey: j("admin.key"), GossipKey: j("gossip.key"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "kmsd e2e CA"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := sign(caTmpl, caTmpl, caKey, caKey)
	if err != nil {
		return p, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return p, err
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	clientOnly := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaves := []struct {
		cert, key, cn, org string
		usage              []x509.ExtKeyUsage
		server             bool
	}{
		{p.ServerCert, p.ServerKey, "kmsd", NodeOrg, both, true},
		{p.ClientCert, p.ClientKey, "dev-client", ClientOrg, clientOnly, false},
		{p.AdminCert, p.AdminKey, "dev-admin", AdminOrg, clientOnly, false},
	}
	for _, l := range leaves {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: l.cn, Organization: []string{l.org}},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: l.usage,
		}
		if l.server {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		if err := writeLeaf(tmpl, ca, caKey, l.cert, l.key); err != nil {
			return p, err
		}
	}
	gossip := make([]byte, 32)
	if _, err := rand.Read(gossip); err != nil {
		return p, err
	}
	return p, os.WriteFile(p.GossipKey, gossip, 0o600)
}

func writeLeaf(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := sign(tmpl, ca, key, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, 0o644)
}

func sign(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
