package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// startPKIAdmin serves a fake deny list that trusts the dev PKI's admin CA
// for CRLs, as a node's gRPC port does.
func startPKIAdmin(t *testing.T) (*admintest.FakeRevocation, devpki.Paths, []string) {
	t.Helper()
	devDir := t.TempDir()
	p, err := devpki.Ensure(filepath.Join(devDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := devpki.EnsureNode(p, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	adminCAs, err := devpki.LoadCerts(p.AdminCACert)
	if err != nil {
		t.Fatal(err)
	}
	nodeCAs, err := devpki.LoadCerts(p.NodeCACert)
	if err != nil {
		t.Fatal(err)
	}
	rev := admintest.NewFakeRevocation(adminCAs...)
	cfg := devpki.ServerConfig(cert, devpki.NewPool(append(slices.Clone(adminCAs), nodeCAs...)...))
	addr := admintest.Serve(t, admintest.NewFakeCluster(), cfg, admintest.Options{AdminCAs: adminCAs, NodeCAs: nodeCAs, Revocation: rev})
	return rev, p, []string{"--admin", addr, "--dev-dir", devDir}
}

func TestPKIRevoke(t *testing.T) {
	clearAdminEnv(t)
	rev, p, conn := startPKIAdmin(t)

	if out := ok(t, conn, "pki", "revoked"); out != "CERTIFICATE  REASON  REVOKED  BY  EXPIRES\n" {
		t.Errorf("empty list: %q", out)
	}
	leaf, err := devpki.LoadCerts(p.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf[0].Raw)
	fp := hex.EncodeToString(sum[:])
	if out := ok(t, conn, "pki", "revoke", "--cert", p.ClientCert, "--reason", "laptop lost"); !strings.HasPrefix(out, "revoked sha256:"+fp) {
		t.Errorf("revoke --cert: %q", out)
	}
	if out := ok(t, conn, "pki", "revoke", "--fingerprint", strings.ToUpper(colons(fp))); !strings.Contains(out, "was revoked already") {
		t.Errorf("revoke --fingerprint of the same certificate: %q", out)
	}
	ok(t, conn, "pki", "revoke", "--serial", "0x1f", "--issuer", p.AdminCACert, "--reason", "left")
	ok(t, conn, "pki", "revoke", "--serial", "31", "--issuer", p.AdminCACert) // the same serial, in decimal

	list := decodeJSON[revokedList](t, ok(t, conn, "-o", "json", "pki", "revoked"))
	if len(list.Entries) != 2 {
		t.Fatalf("json list: %+v", list)
	}
	if e := list.Entries[0]; e.Fingerprint != fp || e.Reason != "laptop lost" || e.RevokedBy != devpki.AdminCommonName || e.Revoked == nil || e.NotAfter == nil {
		t.Errorf("first entry: %+v", e)
	}
	if e := list.Entries[1]; e.Serial != "1f" || e.Issuer == "" || e.Reason != "left" {
		t.Errorf("second entry: %+v", e)
	}
	if out := ok(t, conn, "pki", "revoked"); !strings.Contains(out, "laptop lost") || !strings.Contains(out, "serial 1f") {
		t.Errorf("table:\n%s", out)
	}

	fails(t, conn, "name the certificate one way", "pki", "revoke")
	fails(t, conn, "name the certificate one way", "pki", "revoke", "--cert", p.ClientCert, "--fingerprint", fp)
	fails(t, conn, "--serial and --issuer go together", "pki", "revoke", "--serial", "5")
	fails(t, conn, "invalid --fingerprint", "pki", "revoke", "--fingerprint", "abcd")
	fails(t, conn, "invalid --serial", "pki", "revoke", "--serial", "-3", "--issuer", p.AdminCACert)
	fails(t, conn, "certificate_pem", "pki", "revoke", "--cert", p.ClientKey)
	fails(t, conn, "at most 256 bytes", "pki", "revoke", "--cert", p.ClientCert, "--reason", strings.Repeat("r", 257))
	if n := revokedCount(t, rev); n != 2 {
		t.Fatalf("refused commands changed the list: %d entries", n)
	}
}

func colons(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// revokedCount is the number of entries the fake holds.
func revokedCount(t *testing.T, rev *admintest.FakeRevocation) int {
	t.Helper()
	entries, err := rev.RevokedCertificates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestPKICRLImport(t *testing.T) {
	clearAdminEnv(t)
	rev, p, conn := startPKIAdmin(t)
	ca, err := devpki.LoadAuthority(p.AdminCACert, p.AdminCAKey)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.CRL(big.NewInt(10), big.NewInt(11))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "admin.crl")
	if err := os.WriteFile(file, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, conn, "pki", "crl", "import", file, "--reason", "quarterly CRL"); out != "CRL imported: 2 certificates listed, 2 newly revoked\n" {
		t.Errorf("import: %q", out)
	}
	if r := decodeJSON[crlResult](t, ok(t, conn, "-o", "json", "pki", "crl", "import", file)); r.Listed != 2 || r.Added != 0 || r.Issuer == "" {
		t.Errorf("import again: %+v", r)
	}
	stranger, err := devpki.NewAuthority("stranger")
	if err != nil {
		t.Fatal(err)
	}
	der, err = stranger.CRL(big.NewInt(12))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, der, 0o600); err != nil {
		t.Fatal(err)
	}
	fails(t, conn, "not signed by a CA this cluster trusts", "pki", "crl", "import", file)
	fails(t, conn, "not a certificate revocation list", "pki", "crl", "import", p.ClientCert)
	large := filepath.Join(t.TempDir(), "large.crl")
	if err := os.WriteFile(large, make([]byte, maxCRLFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(t, conn, "larger than", "pki", "crl", "import", large)
	if n := revokedCount(t, rev); n != 2 {
		t.Fatalf("%d entries, want the first CRL's 2", n)
	}
}

// TestPKINeedsAnOperator: a node certificate and a KMIP client
// certificate may not use the pki commands.
func TestPKINeedsAnOperator(t *testing.T) {
	clearAdminEnv(t)
	rev, p, conn := startPKIAdmin(t)
	for name, pair := range map[string][2]string{
		"node":   {p.NodeCert("node-1"), p.NodeKey("node-1")},
		"client": {p.ClientCert, p.ClientKey},
	} {
		t.Run(name, func(t *testing.T) {
			as := append(slices.Clone(conn), "--admin-cert", pair[0], "--admin-key", pair[1])
			_, errOut, code := kmsctl(t, append(as, "pki", "revoke", "--cert", p.ClientCert)...)
			if code == 0 || !(strings.Contains(errOut, notAuthorised) || strings.Contains(errOut, "refused this client certificate")) {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			if _, _, code := kmsctl(t, append(as, "pki", "revoked")...); code == 0 {
				t.Fatal("listed")
			}
		})
	}
	if n := revokedCount(t, rev); n != 0 {
		t.Fatalf("%d entries after refused calls", n)
	}
}

// TestPKIRevokedPages: a list longer than one page is read whole.
func TestPKIRevokedPages(t *testing.T) {
	clearAdminEnv(t)
	rev, _, conn := startPKIAdmin(t)
	entries := make([]denylist.Entry, listPage+7)
	for i := range entries {
		sum := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		entries[i] = denylist.Entry{Fingerprint: sum[:]}
	}
	if _, err := rev.RevokeCertificates(t.Context(), entries, "test"); err != nil {
		t.Fatal(err)
	}
	if list := decodeJSON[revokedList](t, ok(t, conn, "-o", "json", "pki", "revoked")); len(list.Entries) != len(entries) {
		t.Fatalf("%d entries, want %d", len(list.Entries), len(entries))
	}
}
