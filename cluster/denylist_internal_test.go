package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/denylist"
)

// TestRaftTransportDenyList: with a guard, the Raft stream layer tracks
// both ends of a connection; revoking the peer's certificate closes them,
// and a new connection is refused at the handshake.
func TestRaftTransportDenyList(t *testing.T) {
	caCert, cert := testNodePKI(t, "node-1")
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	guard := denylist.NewGuard()
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	client := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}
	var addr string
	layer, err := newTLSStreamLayer("127.0.0.1:0", server, client, []*x509.Certificate{caCert}, 5*time.Second,
		func(id string) bool { return id == "node-1" },
		func(a string) (string, bool) { return "node-1", a == addr }, guard)
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	addr = layer.Addr().String()

	accepted := make(chan error, 4)
	go func() {
		for {
			c, err := layer.Accept()
			if err != nil {
				return
			}
			go func() {
				// The first read runs the handshake; the peer sends
				// nothing, so it returns when the connection closes.
				_, err := c.Read(make([]byte, 1))
				accepted <- err
				c.Close()
			}()
		}
	}()
	if _, err := layer.Dial("127.0.0.1:0", time.Second); !errors.Is(err, ErrNotMember) {
		t.Fatalf("dial of a non-member address: %v", err)
	}
	conn, err := layer.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, func() bool { return guard.Conns.Len() == 2 }, "both ends tracked")

	l := denylist.NewList([]denylist.Entry{denylist.ForCertificate(cert.Leaf, "test")})
	guard.Checker.Set(l)
	if n := guard.Conns.CloseRevoked(l, nil); n != 2 {
		t.Fatalf("closed %d connections, want 2", n)
	}
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the accepted connection is still open")
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the dialed connection is still open")
		}
	}
	if c, err := layer.Dial(raft.ServerAddress(addr), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection with a revoked certificate was dialed")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testNodePKI makes a CA and a certificate of node id signed by it.
func testNodePKI(t *testing.T, id string) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, key
	}
	validity := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	}
	caTmpl := validity(1, "node CA")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid, caTmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	ca, caKey := mk(caTmpl, nil, nil)
	leafTmpl := validity(2, id)
	leafTmpl.URIs = []*url.URL{NodeURI(id)}
	leafTmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	leaf, key := mk(leafTmpl, ca, caKey)
	return ca, tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
}
