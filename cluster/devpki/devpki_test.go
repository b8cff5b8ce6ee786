package devpki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

func allFiles(p Paths) map[string]os.FileMode {
	return map[string]os.FileMode{
		p.CACert: 0o644, p.CAKey: 0o600,
		p.ServerCert: 0o644, p.ServerKey: 0o600,
		p.ClientCert: 0o644, p.ClientKey: 0o600,
		p.AdminCACert: 0o644, p.AdminCAKey: 0o600,
		p.AdminCert: 0o644, p.AdminKey: 0o600,
		p.NodeCACert: 0o644, p.NodeCAKey: 0o600,
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

func mustRead(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	c, err := readCert(file)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
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

	cas := map[string]*x509.Certificate{}
	for file, cn := range map[string]string{p.CACert: CACommonName, p.AdminCACert: AdminCACommonName, p.NodeCACert: NodeCACommonName} {
		ca := mustRead(t, file)
		if !ca.IsCA || ca.Subject.CommonName != cn {
			t.Errorf("%s: IsCA=%v CN=%q", filepath.Base(file), ca.IsCA, ca.Subject.CommonName)
		}
		if d := time.Until(ca.NotAfter); d < 9*365*24*time.Hour {
			t.Errorf("%s valid for only %v", filepath.Base(file), d)
		}
		cas[file] = ca
	}
	for _, pair := range [][2]string{{p.CACert, p.AdminCACert}, {p.CACert, p.NodeCACert}, {p.AdminCACert, p.NodeCACert}} {
		if publicKeyEqual(cas[pair[0]].PublicKey, cas[pair[1]].PublicKey) {
			t.Errorf("%s and %s share a key", filepath.Base(pair[0]), filepath.Base(pair[1]))
		}
	}

	srv := mustRead(t, p.ServerCert)
	if srv.Subject.CommonName != ServerCommonName || len(srv.Subject.Organization) != 0 {
		t.Errorf("server subject = %v, want CN %s and no Organization", srv.Subject, ServerCommonName)
	}
	if _, ok := cluster.NodeIDFromCert(srv); ok {
		t.Error("the KMIP server certificate names a node id")
	}
	if !slices.Equal(srv.DNSNames, []string{"localhost", "node1.example"}) {
		t.Errorf("server DNS SANs = %v", srv.DNSNames)
	}
	if ips := ipStrings(srv.IPAddresses); !slices.Equal(ips, []string{"127.0.0.1", "::1", "10.1.2.3"}) {
		t.Errorf("server IP SANs = %v", ips)
	}
	if !slices.Equal(srv.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server ExtKeyUsage = %v", srv.ExtKeyUsage)
	}
	for _, c := range []struct {
		file, cn, org string
		ca            *x509.Certificate
	}{
		{p.ServerCert, ServerCommonName, "", cas[p.CACert]},
		{p.ClientCert, ClientCommonName, ClientOrg, cas[p.CACert]},
		{p.AdminCert, AdminCommonName, AdminOrg, cas[p.AdminCACert]},
	} {
		cert := mustRead(t, c.file)
		if c.org != "" {
			if cert.Subject.CommonName != c.cn || !slices.Equal(cert.Subject.Organization, []string{c.org}) {
				t.Errorf("%s subject = %v", c.file, cert.Subject)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
				t.Errorf("%s ExtKeyUsage = %v", c.file, cert.ExtKeyUsage)
			}
		}
		for file, ca := range cas {
			signed := cert.CheckSignatureFrom(ca) == nil
			if want := ca == c.ca; signed != want {
				t.Errorf("%s signed by %s = %v, want %v", filepath.Base(c.file), filepath.Base(file), signed, want)
			}
		}
	}
	for _, f := range []string{p.CAKey, p.AdminCAKey, p.NodeCAKey, p.ServerKey, p.ClientKey, p.AdminKey} {
		b, _ := os.ReadFile(f)
		if !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Errorf("%s is not a PKCS#8 PEM key", f)
		}
	}
}

func TestEnsureNode(t *testing.T) {
	p := mustEnsure(t, t.TempDir())
	certFile, keyFile, err := EnsureNode(p, "node-1", "10.1.2.3", "n1.example")
	if err != nil {
		t.Fatal(err)
	}
	if certFile != filepath.Join(p.Dir, "nodes", "node-1.pem") || keyFile != filepath.Join(p.Dir, "nodes", "node-1.key") {
		t.Errorf("files = %s, %s", certFile, keyFile)
	}
	for f, mode := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600, filepath.Join(p.Dir, NodesDir): 0o700} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode = %o, want %o", f, st.Mode().Perm(), mode)
		}
	}
	c := mustRead(t, certFile)
	if c.Subject.CommonName != "node-1" || !slices.Equal(c.Subject.Organization, []string{NodeOrg}) {
		t.Errorf("subject = %v", c.Subject)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "urn:kmsd:node:node-1" {
		t.Errorf("URI SANs = %v", c.URIs)
	}
	if id, ok := cluster.NodeIDFromCert(c); !ok || id != "node-1" {
		t.Errorf("NodeIDFromCert = %q, %v", id, ok)
	}
	if !slices.Equal(c.DNSNames, []string{"localhost", "n1.example"}) ||
		!slices.Equal(ipStrings(c.IPAddresses), []string{"127.0.0.1", "::1", "10.1.2.3"}) {
		t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
	}
	for file, want := range map[string]bool{p.NodeCACert: true, p.CACert: false, p.AdminCACert: false} {
		if signed := c.CheckSignatureFrom(mustRead(t, file)) == nil; signed != want {
			t.Errorf("signed by %s = %v, want %v", filepath.Base(file), signed, want)
		}
	}

	before, _ := os.ReadFile(certFile)
	if _, _, err := EnsureNode(p, "node-1", "other.example"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(certFile); !bytes.Equal(before, after) {
		t.Error("a second EnsureNode rewrote the certificate")
	}

	t.Run("bad id", func(t *testing.T) {
		for _, id := range []string{"", "../x", "a/b", "127.0.0.1:5698"} {
			if _, _, err := EnsureNode(p, id); err == nil {
				t.Errorf("EnsureNode(%q) succeeded", id)
			}
		}
	})
	t.Run("certificate of another node", func(t *testing.T) {
		c2, k2, err := EnsureNode(p, "node-2")
		if err != nil {
			t.Fatal(err)
		}
		for from, to := range map[string]string{c2: p.NodeCert("node-3"), k2: p.NodeKey("node-3")} {
			b, _ := os.ReadFile(from)
			if err := os.WriteFile(to, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := EnsureNode(p, "node-3"); err == nil {
			t.Error("EnsureNode accepted node-2's certificate as node-3's")
		}
	})
	t.Run("no node CA", func(t *testing.T) {
		if _, _, err := EnsureNode(PathsIn(t.TempDir()), "node-1"); err == nil {
			t.Error("EnsureNode succeeded without Ensure")
		}
	})
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

// TestEnsureUpgradesSingleCAFolder: a folder written when one CA signed
// everything keeps its KMIP files (clients trust ca.pem), gains the admin
// and node CAs, and gets an admin certificate of the admin CA.
func TestEnsureUpgradesSingleCAFolder(t *testing.T) {
	dir := t.TempDir()
	p := PathsIn(dir)
	ca, _, err := ensureCA(p.CACert, p.CAKey, CACommonName)
	if err != nil {
		t.Fatal(err)
	}
	oldServer := func() *x509.Certificate {
		tmpl := serverTemplate(nil)
		tmpl.Subject = pkix.Name{CommonName: ServerCommonName, Organization: []string{NodeOrg}}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		return tmpl
	}
	for _, l := range []struct {
		cert, key string
		tmpl      func() *x509.Certificate
	}{
		{p.ServerCert, p.ServerKey, oldServer},
		{p.ClientCert, p.ClientKey, func() *x509.Certificate { return clientTemplate(ClientCommonName, ClientOrg) }},
		{p.AdminCert, p.AdminKey, func() *x509.Certificate { return clientTemplate(AdminCommonName, AdminOrg) }},
	} {
		if err := ensureLeaf(ca, l.cert, l.key, l.tmpl); err != nil {
			t.Fatal(err)
		}
	}
	keep := map[string][]byte{}
	for _, f := range []string{p.CACert, p.CAKey, p.ServerCert, p.ServerKey, p.ClientCert, p.ClientKey} {
		keep[f], _ = os.ReadFile(f)
	}
	oldAdmin, _ := os.ReadFile(p.AdminCert)

	mustEnsure(t, dir)
	for f, b := range keep {
		if got, _ := os.ReadFile(f); !bytes.Equal(got, b) {
			t.Errorf("%s changed", filepath.Base(f))
		}
	}
	if got, _ := os.ReadFile(p.AdminCert); bytes.Equal(got, oldAdmin) {
		t.Error("admin.pem of the KMIP CA was kept")
	}
	if err := mustRead(t, p.AdminCert).CheckSignatureFrom(mustRead(t, p.AdminCACert)); err != nil {
		t.Errorf("admin.pem not signed by the admin CA: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(p.AdminCert, p.AdminKey); err != nil {
		t.Errorf("admin pair: %v", err)
	}
	if _, _, err := EnsureNode(p, "node-1"); err != nil {
		t.Errorf("EnsureNode after the upgrade: %v", err)
	}
	// The KMIP listener of the upgraded folder still serves its clients.
	serverCfg, err := ServerTLS(p)
	if err != nil {
		t.Fatal(err)
	}
	clientCfg, err := ClientTLS(p.CACert, p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if cerr, serr := handshake(t, serverCfg, clientCfg); cerr != nil || serr != nil {
		t.Errorf("KMIP handshake: client=%v server=%v", cerr, serr)
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
	if err := mustRead(t, p.ClientCert).CheckSignatureFrom(mustRead(t, p.CACert)); err != nil {
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
	t.Run("admin certificate from a replaced admin CA", func(t *testing.T) {
		dir := t.TempDir()
		p := mustEnsure(t, dir)
		os.Remove(p.AdminCACert)
		os.Remove(p.AdminCAKey)
		if _, err := Ensure(dir); err == nil {
			t.Fatal("Ensure accepted admin.pem from a replaced admin CA")
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
	nodeCert, nodeKey, err := EnsureNode(p, "node-1")
	if err != nil {
		t.Fatal(err)
	}

	clientCfg, err := ClientTLS(p.CACert, p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if cerr, serr := handshake(t, serverCfg, clientCfg); cerr != nil || serr != nil {
		t.Errorf("client.pem: handshake failed: client=%v server=%v", cerr, serr)
	}
	// The KMIP listener trusts the KMIP CA only.
	for _, pair := range [][2]string{{p.AdminCert, p.AdminKey}, {nodeCert, nodeKey}} {
		clientCfg, err := ClientTLS(p.CACert, pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if _, serr := handshake(t, serverCfg, clientCfg); serr == nil {
			t.Errorf("the KMIP listener accepted %s", filepath.Base(pair[0]))
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

func TestLoadCerts(t *testing.T) {
	p := mustEnsure(t, t.TempDir())
	a, _ := os.ReadFile(p.CACert)
	b, _ := os.ReadFile(p.NodeCACert)
	key, _ := os.ReadFile(p.CAKey)
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, slices.Concat(a, key, b), 0o600); err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCerts(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || certs[0].Subject.CommonName != CACommonName || certs[1].Subject.CommonName != NodeCACommonName {
		t.Errorf("LoadCerts = %d certificates", len(certs))
	}
	if _, err := LoadCerts(p.CAKey); err == nil {
		t.Error("a file without certificates was accepted")
	}
	if _, err := LoadCerts(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("a missing file was accepted")
	}
}
