package devpki

import (
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

func TestAuthorityIssuesTrustedCertificates(t *testing.T) {
	ca, err := NewAuthority("test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewAuthority("other CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("kmsd", []string{NodeOrg}, "node1.example")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(server.Leaf.Subject.Organization, []string{NodeOrg}) || !slices.Contains(server.Leaf.DNSNames, "node1.example") {
		t.Errorf("leaf subject %v, DNS names %v", server.Leaf.Subject, server.Leaf.DNSNames)
	}
	client, err := ca.Issue("alice", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue("mallory", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(c tls.Certificate) error {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		srv := tls.Server(a, ca.ServerTLS(server))
		done := make(chan error, 1)
		go func() { done <- srv.Handshake() }()
		cfg := ca.ClientTLS(c)
		cfg.ServerName = "localhost"
		cl := tls.Client(b, cfg)
		cerr := cl.Handshake()
		if cerr == nil {
			// TLS 1.3 checks the client certificate after the client's
			// side is done: read once to see the server's verdict.
			_ = cl.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, cerr = cl.Read(make([]byte, 1))
			if ne, ok := cerr.(net.Error); ok && ne.Timeout() {
				cerr = nil
			}
		}
		b.Close()
		serr := <-done
		if cerr != nil {
			return cerr
		}
		return serr
	}
	if err := handshake(client); err != nil {
		t.Errorf("a client of the same CA was refused: %v", err)
	}
	if err := handshake(foreign); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
}

func TestAuthorityIssueNode(t *testing.T) {
	ca, err := NewAuthority("node CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueNode("n1", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := cluster.NodeIDFromCert(cert.Leaf); !ok || id != "n1" {
		t.Errorf("NodeIDFromCert = %q, %v", id, ok)
	}
	if id, err := cluster.CertificateNodeID(cert); err != nil || id != "n1" {
		t.Errorf("CertificateNodeID = %q, %v", id, err)
	}
	if !slices.Equal(cert.Leaf.Subject.Organization, []string{NodeOrg}) || cert.Leaf.Subject.CommonName != "n1" {
		t.Errorf("subject = %v", cert.Leaf.Subject)
	}
	if err := cert.Leaf.CheckSignatureFrom(ca.Cert()); err != nil {
		t.Error(err)
	}
	if _, err := ca.IssueNode("bad id"); err == nil {
		t.Error("IssueNode accepted an invalid node id")
	}
}

func TestLoadAuthority(t *testing.T) {
	p, err := Ensure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadAuthority(p.CACert, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := ca.IssueNode("node-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Leaf.CheckSignatureFrom(ca.Cert()); err != nil {
		t.Error(err)
	}
	if _, err := LoadAuthority(p.CACert, p.AdminCAKey); err == nil {
		t.Error("LoadAuthority accepted a key of another CA")
	}
}
