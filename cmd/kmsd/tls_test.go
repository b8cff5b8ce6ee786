package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// testCA is a CA certificate and its key; parent nil makes it self-signed.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, cn string, parent *testCA) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return issueCA(t, cn, key, parent)
}

// issueCA signs a CA certificate for key with parent (self-signed if nil).
func issueCA(t *testing.T, cn string, key *ecdsa.PrivateKey, parent *testCA) *testCA {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func certs(cas ...*testCA) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range cas {
		out = append(out, c.cert)
	}
	return out
}

func TestCheckSeparateCAs(t *testing.T) {
	client := newTestCA(t, "client CA", nil)
	admin := newTestCA(t, "admin CA", nil)
	node := newTestCA(t, "node CA", nil)
	other := newTestCA(t, "other CA", nil)
	nodeUnderClient := newTestCA(t, "node CA under the client CA", client)
	clientUnderNode := newTestCA(t, "client CA under the node CA", node)
	adminUnderClient := newTestCA(t, "admin CA under the client CA", client)
	adminUnderNode := newTestCA(t, "admin CA under the node CA", node)
	clientRekeyed := issueCA(t, "client CA, issued again", client.key, nil)
	// A certificate with the client CA's subject but another key did not
	// issue anything of the client CA's.
	lookalike := newTestCA(t, "client CA", nil)

	tests := []struct {
		name                string
		client, admin, node []*x509.Certificate
		flags               string // "" if accepted, else the flags the error names
	}{
		{"unrelated CAs", certs(client), certs(admin), certs(node), ""},
		{"same node and client CA", certs(client), certs(admin), certs(client), "--node-ca and --client-ca"},
		{"same admin and client CA", certs(client), certs(client), certs(node), "--admin-ca and --client-ca"},
		{"same node and admin CA", certs(client), certs(admin), certs(admin), "--node-ca and --admin-ca"},
		{"node CA issued by the client CA", certs(client), certs(admin), certs(nodeUnderClient), "--node-ca and --client-ca"},
		{"client CA issued by the node CA", certs(clientUnderNode), certs(admin), certs(node), "--node-ca and --client-ca"},
		{"admin CA issued by the client CA", certs(client), certs(adminUnderClient), certs(node), "--admin-ca and --client-ca"},
		{"admin CA issued by the node CA", certs(client), certs(adminUnderNode), certs(node), "--node-ca and --admin-ca"},
		{"client CA with the node CA's key", certs(client), certs(admin), certs(issueCA(t, "node CA", client.key, nil)), "--node-ca and --client-ca"},
		{"the client CA issued again", certs(clientRekeyed), certs(admin), certs(client), "--node-ca and --client-ca"},
		{"a subject lookalike", certs(lookalike), certs(admin), certs(nodeUnderClient), ""},
		{"bundles of unrelated CAs", certs(client, other), certs(admin), certs(node, newTestCA(t, "node CA 2", nil)), ""},
		{"shared CA last in a bundle", certs(other, client), certs(admin), certs(node, client), "--node-ca and --client-ca"},
		{"issuer deep in a bundle", certs(other, client), certs(admin), certs(node, nodeUnderClient), "--node-ca and --client-ca"},
		{"issued CA deep in a bundle", certs(other, clientUnderNode), certs(admin), certs(newTestCA(t, "x", nil), node), "--node-ca and --client-ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSeparateCAs(tt.client, tt.admin, tt.node)
			if tt.flags == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, errSharedCA) {
				t.Fatalf("err = %v, want a shared CA error", err)
			}
			for _, want := range []string{tt.flags, "--allow-shared-ca", "a CA of its own"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

// devFiles makes a development PKI with a certificate for node id.
func devFiles(t *testing.T, id string) (devpki.Paths, tlsFiles) {
	t.Helper()
	p, err := devpki.Ensure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := devpki.EnsureNode(p, id)
	if err != nil {
		t.Fatal(err)
	}
	return p, devTLSFiles(p, cert, key)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLoadTLS(t *testing.T) {
	p, files := devFiles(t, "kms1")
	var cfg config
	if err := loadTLS(&cfg, files, discard()); err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "kms1" {
		t.Errorf("node id = %q, want the certificate's kms1", cfg.NodeID)
	}
	if len(cfg.AdminCAs) != 1 || len(cfg.NodeCAs) != 1 || cfg.AdminCAs[0].Subject.CommonName != devpki.AdminCACommonName ||
		cfg.NodeCAs[0].Subject.CommonName != devpki.NodeCACommonName {
		t.Errorf("anchors: admin %v, node %v", cfg.AdminCAs, cfg.NodeCAs)
	}
	// Which certificates each listener and the dialer accept, checked by
	// verifying every leaf against their pools.
	nodeCert, _, _ := devpki.EnsureNode(p, "kms2")
	leaves := map[string]string{"client": p.ClientCert, "admin": p.AdminCert, "node": nodeCert}
	accepts := func(pool *x509.CertPool) map[string]bool {
		got := map[string]bool{}
		for who, file := range leaves {
			leaf := readLeaf(t, file)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			got[who] = err == nil
		}
		return got
	}
	for _, tt := range []struct {
		name string
		pool *x509.CertPool
		want map[string]bool
	}{
		{"KMIP listener", cfg.KMIPTLS.ClientCAs, map[string]bool{"client": true, "admin": false, "node": false}},
		{"Raft listener", cfg.NodeServerTLS.ClientCAs, map[string]bool{"client": false, "admin": false, "node": true}},
		{"node dialer", cfg.NodeClientTLS.RootCAs, map[string]bool{"client": false, "admin": false, "node": true}},
		{"gRPC port", cfg.GRPCTLS.ClientCAs, map[string]bool{"client": false, "admin": true, "node": true}},
	} {
		got := accepts(tt.pool)
		for who, want := range tt.want {
			if got[who] != want {
				t.Errorf("%s accepts the %s certificate = %v, want %v", tt.name, who, got[who], want)
			}
		}
	}
	for name, c := range map[string]string{
		"Raft": idOf(t, cfg.NodeServerTLS.Certificates[0].Leaf), "dialer": idOf(t, cfg.NodeClientTLS.Certificates[0].Leaf),
		"gRPC": idOf(t, cfg.GRPCTLS.Certificates[0].Leaf),
	} {
		if c != "kms1" {
			t.Errorf("%s presents %q, want the node certificate", name, c)
		}
	}
	if cn := cfg.KMIPTLS.Certificates[0].Leaf.Subject.CommonName; cn != devpki.ServerCommonName {
		t.Errorf("KMIP listener presents %q", cn)
	}
}

func readLeaf(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	c, err := devpki.LoadCerts(file)
	if err != nil {
		t.Fatal(err)
	}
	return c[0]
}

func idOf(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	if len(c.URIs) == 0 {
		return c.Subject.CommonName
	}
	return strings.TrimPrefix(c.URIs[0].String(), "urn:kmsd:node:")
}

func TestLoadTLSErrors(t *testing.T) {
	p, files := devFiles(t, "kms1")
	other, _ := devFiles(t, "kms1")
	otherNode := other.NodeCert("kms1")
	tests := []struct {
		name   string
		change func(*tlsFiles, *config)
		want   []string
	}{
		{"node CA is the client CA", func(f *tlsFiles, _ *config) { f.nodeCA = p.CACert },
			[]string{"--node-ca and --client-ca", "--allow-shared-ca"}},
		{"admin CA is the client CA", func(f *tlsFiles, _ *config) { f.adminCA = p.CACert },
			[]string{"--admin-ca and --client-ca", "--allow-shared-ca"}},
		{"node-id differs from the certificate", func(_ *tlsFiles, c *config) { c.NodeID = "kms2" },
			[]string{`--node-id "kms2"`, `names node "kms1"`}},
		{"node certificate of another node CA", func(f *tlsFiles, _ *config) {
			f.nodeCert, f.nodeKey = otherNode, other.NodeKey("kms1")
		}, []string{"--node-cert", "does not chain to --node-ca"}},
		{"node certificate names no node", func(f *tlsFiles, _ *config) {
			f.nodeCert, f.nodeKey = writeIssued(t, p.NodeCACert, p.NodeCAKey, "not a node id", "kmsd-nodes")
		}, []string{"names no node id"}},
		{"missing client CA", func(f *tlsFiles, _ *config) { f.clientCA = filepath.Join(t.TempDir(), "none.pem") },
			[]string{"KMIP TLS", "--client-ca"}},
		{"admin CA without certificates", func(f *tlsFiles, _ *config) { f.adminCA = p.AdminCAKey },
			[]string{"admin TLS", "--admin-ca"}},
		{"node key does not match", func(f *tlsFiles, _ *config) { f.nodeKey = p.ServerKey },
			[]string{"node TLS", "--node-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := files
			var cfg config
			tt.change(&f, &cfg)
			err := loadTLS(&cfg, f, discard())
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("allow-shared-ca", func(t *testing.T) {
		f := files
		f.adminCA, f.allowSharedCA = p.CACert, true
		var cfg config
		if err := loadTLS(&cfg, f, discard()); err != nil {
			t.Fatalf("--allow-shared-ca: %v", err)
		}
	})
}

// writeIssued issues a server and client certificate from the CA in
// caCert and caKey and writes it and its key to files.
func writeIssued(t *testing.T, caCert, caKey, cn string, orgs ...string) (certFile, keyFile string) {
	t.Helper()
	ca, err := devpki.LoadAuthority(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(cn, orgs)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "cert.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServeNeedsEveryCertificate(t *testing.T) {
	_, files := devFiles(t, "kms1")
	full := []string{"--data-dir", t.TempDir(), "--tls-cert", files.kmipCert, "--tls-key", files.kmipKey,
		"--client-ca", files.clientCA, "--admin-ca", files.adminCA, "--node-ca", files.nodeCA,
		"--node-cert", files.nodeCert, "--node-key", files.nodeKey}
	for i := 0; i < len(full); i += 2 {
		args := append(append([]string{"serve"}, full[:i]...), full[i+2:]...)
		err := run(t.Context(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "serve needs "+full[i]) {
			t.Errorf("without %s: %v", full[i], err)
		}
	}
}

// TestDevClusterConfig: a dev cluster node's config file names its own node
// certificate and the three CAs, and loads as kmsd serve's flags.
func TestDevClusterConfig(t *testing.T) {
	p, err := devpki.Ensure(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	dev := flag.NewFlagSet("dev", flag.ContinueOnError)
	var c commonFlags
	c.register(dev, t.TempDir())
	dn, err := writeDevNode(c, 2, p, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if dn.cert != p.NodeCert("node-3") {
		t.Errorf("node-3 certificate = %s", dn.cert)
	}
	serve := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s serveFlags
	s.register(serve)
	if err := parseWithConfig(serve, []string{"--config", dn.config}, &s.configFile); err != nil {
		t.Fatal(err)
	}
	if m := s.files.missing(); len(m) > 0 || s.dataDir != dn.dir || s.gossipKeyFile != p.GossipKey {
		t.Fatalf("the config file lacks %v (data dir %q, gossip key %q)", m, s.dataDir, s.gossipKeyFile)
	}
	cfg := s.config()
	if err := loadTLS(&cfg, s.files, discard()); err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "node-3" || s.files.nodeCert != p.NodeCert("node-3") || s.files.adminCA != p.AdminCACert || s.files.nodeCA != p.NodeCACert {
		t.Errorf("node id %q, files %+v", cfg.NodeID, s.files)
	}
}
