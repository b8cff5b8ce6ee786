package devpki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func allFiles(p Paths) map[string]os.FileMode {
	return map[string]os.FileMode{
		p.CACert: 0o644, p.CAKey: 0o600,
		p.ServerCert: 0o644, p.ServerKey: 0o600,
		p.ClientCert: 0o644, p.ClientKey: 0o600,
		p.AdminCert: 0o644, p.AdminKey: 0o600,
		p.GossipKey: 0o600,
	}
}

func snapshot(t *testing.T, p Paths) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for f := range allFiles(p) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func mustEnsure(t *testing.T, dir string, hosts ...string) Paths {
	t.Helper()
	p, err := Ensure(dir, hosts...)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return p
}

func TestEnsureCreatesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p := mustEnsure(t, dir, "node1.example", "10.1.2.3", "localhost")
	if p != PathsIn(dir) {
		t.Fatalf("paths = %+v, want %+v", p, PathsIn(dir))
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	for f, mode := range allFiles(p) {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("stat %s: %v", f, err)
		}
		if got := st.Mode().Perm(); got != mode {
			t.Errorf("%s mode = %o, want %o", filepath.Base(f), got, mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(allFiles(p)) {
		t.Errorf("dir has %d entries, want %d (no temp files left)", len(entries), len(allFiles(p)))
	}

	ca, err := readCert(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.Subject.CommonName != CACommonName {
		t.Errorf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	if d := ca.NotAfter.Sub(time.Now()); d < 9*365*24*time.Hour {
		t.Errorf("CA valid for only %v", d)
	}
	srv, err := readCert(p.ServerCert)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Subject.CommonName != ServerCommonName {
		t.Errorf("server CN = %q", srv.Subject.CommonName)
	}
	if !slices.Equal(srv.DNSNames, []string{"localhost", "node1.example"}) {
		t.Errorf("server DNS SANs = %v", srv.DNSNames)
	}
	var ips []string
	for _, ip := range srv.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "::1", "10.1.2.3"}) {
		t.Errorf("server IP SANs = %v", ips)
	}
	if !slices.Equal(srv.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("server ExtKeyUsage = %v", srv.ExtKeyUsage)
	}
	for _, c := range []struct{ file, cn, org string }{
		{p.ClientCert, ClientCommonName, ClientOrg},
		{p.AdminCert, AdminCommonName, AdminOrg},
	} {
		cert, err := readCert(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != c.cn || !slices.Equal(cert.Subject.Organization, []string{c.org}) {
			t.Errorf("%s subject = %v", c.file, cert.Subject)
		}
		if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("%s ExtKeyUsage = %v", c.file, cert.ExtKeyUsage)
		}
		if err := cert.CheckSignatureFrom(ca); err != nil {
			t.Errorf("%s not signed by CA: %v", c.file, err)
		}
	}
	for _, f := range []string{p.CAKey, p.ServerKey, p.ClientKey, p.AdminKey} {
		b, _ := os.ReadFile(f)
		if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Errorf("%s is not a PKCS#8 PEM key", f)
		}
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, dir)
	before := snapshot(t, p)
	mustEnsure(t, dir, "other-host")
	after := snapshot(t, p)
	for f, b := range before {
		if !bytes.Equal(b, after[f]) {
			t.Errorf("%s changed on second Ensure", filepath.Base(f))
		}
	}
}

func TestEnsureRegeneratesMissingLeaf(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, dir)
	before := snapshot(t, p)
	for _, f := range []string{p.ClientCert, p.ClientKey} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	mustEnsure(t, dir)
	after := snapshot(t, p)
	for f, b := range before {
		changed := !bytes.Equal(b, after[f])
		want := f == p.ClientCert || f == p.ClientKey
		if changed != want {
			t.Errorf("%s changed = %v, want %v", filepath.Base(f), changed, want)
		}
	}
	ca, _ := readCert(p.CACert)
	client, err := readCert(p.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CheckSignatureFrom(ca); err != nil {
		t.Errorf("regenerated client cert not signed by the existing CA: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey); err != nil {
		t.Errorf("regenerated pair does not match: %v", err)
	}
}

func TestEnsureMissingCertKeepsKey(t *testing.T) {
	dir := t.TempDir()
	p := mustEnsure(t, dir)
	key, _ := os.ReadFile(p.AdminKey)
	if err := os.Remove(p.AdminCert); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, dir)
	if got, _ := os.ReadFile(p.AdminKey); !bytes.Equal(got, key) {
		t.Error("admin.key was rewritten")
	}
	if _, err := tls.LoadX509KeyPair(p.AdminCert, p.AdminKey); err != nil {
		t.Errorf("new admin.pem does not match the kept key: %v", err)
	}
}

func TestEnsureErrors(t *testing.T) {
	t.Run("cert without key", func(t *testing.T) {
		dir := t.TempDir()
		p := mustEnsure(t, dir)
		cert, _ := os.ReadFile(p.ServerCert)
		os.Remove(p.ServerKey)
		if _, err := Ensure(dir); err == nil {
			t.Fatal("Ensure succeeded with server.pem but no server.key")
		}
		if got, _ := os.ReadFile(p.ServerCert); !bytes.Equal(got, cert) {
			t.Error("server.pem was overwritten")
		}
	})
	t.Run("leaf from another CA", func(t *testing.T) {
		dir := t.TempDir()
		p := mustEnsure(t, dir)
		os.Remove(p.CACert)
		os.Remove(p.CAKey)
		if _, err := Ensure(dir); err == nil {
			t.Fatal("Ensure accepted leaf certificates from a replaced CA")
		}
	})
}

// handshake runs a TLS handshake over net.Pipe and returns the client and
// server errors.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	deadline := time.Now().Add(10 * time.Second)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	clientCfg = clientCfg.Clone()
	clientCfg.ServerName = "localhost"
	done := make(chan error, 1)
	go func() {
		srv := tls.Server(s, serverCfg)
		err := srv.Handshake()
		if err == nil {
			// In TLS 1.3 the client finishes its handshake before the
			// server has checked its certificate; a write that the
			// client reads makes a rejection reach the client too.
			_, err = srv.Write([]byte("ok"))
		}
		s.Close()
		done <- err
	}()
	cli := tls.Client(c, clientCfg)
	clientErr = cli.Handshake()
	if clientErr == nil {
		buf := make([]byte, 2)
		_, clientErr = cli.Read(buf)
	}
	c.Close()
	return clientErr, <-done
}

func TestTLSHandshake(t *testing.T) {
	p := mustEnsure(t, t.TempDir())
	serverCfg, err := ServerTLS(p)
	if err != nil {
		t.Fatal(err)
	}
	if serverCfg.MinVersion != tls.VersionTLS12 || serverCfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("server config: MinVersion=%x ClientAuth=%v", serverCfg.MinVersion, serverCfg.ClientAuth)
	}

	for _, pair := range [][2]string{{p.ClientCert, p.ClientKey}, {p.AdminCert, p.AdminKey}, {p.ServerCert, p.ServerKey}} {
		clientCfg, err := ClientTLS(p.CACert, pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if cerr, serr := handshake(t, serverCfg, clientCfg); cerr != nil || serr != nil {
			t.Errorf("%s: handshake failed: client=%v server=%v", filepath.Base(pair[0]), cerr, serr)
		}
	}

	other := mustEnsure(t, t.TempDir())
	t.Run("client cert from another CA", func(t *testing.T) {
		clientCfg, err := ClientTLS(p.CACert, other.ClientCert, other.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, serr := handshake(t, serverCfg, clientCfg); serr == nil {
			t.Error("server accepted a client certificate from another CA")
		}
	})
	t.Run("no client cert", func(t *testing.T) {
		clientCfg, err := ClientTLS(p.CACert, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, serr := handshake(t, serverCfg, clientCfg); serr == nil {
			t.Error("server accepted a client without a certificate")
		}
	})
	t.Run("client trusts another CA", func(t *testing.T) {
		clientCfg, err := ClientTLS(other.CACert, p.ClientCert, p.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		if cerr, _ := handshake(t, serverCfg, clientCfg); cerr == nil {
			t.Error("client accepted a server certificate from an untrusted CA")
		}
	})
}
