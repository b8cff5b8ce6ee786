package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// TestPKIIssue: against kmsd dev, `kmsctl pki issue` gives a new client a
// certificate that works at once in its tenant and role; `pki sign` signs
// a CSR; `pki list` shows both; issuing never overwrites a key.
func TestPKIIssue(t *testing.T) {
	node := harness.StartDev(t, "")
	admin := func(args ...string) (string, error) {
		return node.KmsctlAdmin(t, append([]string{"--admin", node.AdminAddr}, args...)...)
	}
	out := t.TempDir()
	if _, err := admin("pki", "issue", "--tenant", "backup", "--role", "user", "--cn", "veeam1", "--out", out); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(out, "veeam1.pem"), filepath.Join(out, "veeam1.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// The file holds the certificate, then the CA.
	data, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 || certs[0].Subject.CommonName != "veeam1" || !certs[1].IsCA {
		t.Fatalf("certificate file holds %d certificates", len(certs))
	}

	created, err := node.KmsctlAs(t, cert, key, "key", "create", "--alg", "AES", "--length", "256", "--name", "backup-key", "-o", "json")
	if err != nil {
		t.Fatalf("the issued certificate does not work: %v", err)
	}
	var k struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(created), &k); err != nil || k.ID == "" {
		t.Fatalf("create: %q %v", created, err)
	}
	// The dev client certificate is not in tenant backup.
	if _, err := node.Kmsctl(t, "key", "get", k.ID); err == nil {
		t.Error("another tenant reads the backup tenant's key")
	}

	// A read-only certificate of the same tenant, for a CSR made elsewhere.
	csrKey, csr := filepath.Join(out, "auditor.key"), filepath.Join(out, "auditor.csr")
	writeCSR(t, "auditor", csrKey, csr)
	signed := filepath.Join(out, "auditor.pem")
	if _, err := admin("pki", "sign", "--csr", csr, "--tenant", "backup", "--role", "read-only", "--out", signed); err != nil {
		t.Fatal(err)
	}
	if _, err := node.KmsctlAs(t, signed, csrKey, "key", "get", k.ID); err != nil {
		t.Errorf("the signed certificate cannot read its tenant's key: %v", err)
	}
	if _, err := node.KmsctlAs(t, signed, csrKey, "key", "destroy", k.ID); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the read-only certificate destroyed a key: %v", err)
	}

	list, err := admin("pki", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"issuing CA: CN=kmsd dev CA", "veeam1", "auditor", "backup", "read-only"} {
		if !strings.Contains(list, want) {
			t.Errorf("pki list lacks %q:\n%s", want, list)
		}
	}
	if _, err := admin("pki", "issue", "--tenant", "backup", "--role", "user", "--cn", "veeam1", "--out", out); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("issue over an existing key: %v", err)
	}
	// A KMIP client certificate is no operator.
	if _, err := node.Kmsctl(t, "--admin", node.AdminAddr, "pki", "issue", "--tenant", "x", "--role", "admin", "--cn", "me", "--out", t.TempDir()); err == nil {
		t.Error("a KMIP client certificate issued a certificate")
	}
}

// writeCSR makes a P-256 key and a certificate request for cn, as an
// appliance that keeps its own key does.
func writeCSR(t *testing.T, cn, keyFile, csrFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
