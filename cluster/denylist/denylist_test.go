package denylist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func issue(t *testing.T, cn string, serial int64, parent *testCert, ca bool) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
	}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func (c *testCert) tls(chain ...*testCert) tls.Certificate {
	out := tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
	for _, x := range chain {
		out.Certificate = append(out.Certificate, x.cert.Raw)
	}
	return out
}

func TestListHit(t *testing.T) {
	root := issue(t, "root", 1, nil, true)
	inter := issue(t, "intermediate", 2, root, true)
	leaf := issue(t, "leaf", 3, inter, false)
	other := issue(t, "other", 3, root, false)
	chain := [][]*x509.Certificate{{leaf.cert, inter.cert, root.cert}}
	for name, tc := range map[string]struct {
		entry Entry
		hit   bool
	}{
		"leaf by fingerprint":         {ForCertificate(leaf.cert, ""), true},
		"leaf by issuer and serial":   {ForSerial(inter.cert, big.NewInt(3), ""), true},
		"intermediate by serial":      {ForSerial(root.cert, big.NewInt(2), ""), true},
		"intermediate by fingerprint": {ForCertificate(inter.cert, ""), true},
		"root by fingerprint":         {ForCertificate(root.cert, ""), true},
		"root, self-issued serial":    {ForSerial(root.cert, big.NewInt(1), ""), true},
		"same serial, other issuer":   {ForSerial(root.cert, big.NewInt(3), ""), false},
		"another certificate":         {ForCertificate(other.cert, ""), false},
	} {
		t.Run(name, func(t *testing.T) {
			if err := tc.entry.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, hit := NewList([]Entry{tc.entry}).Hit(chain); hit != tc.hit {
				t.Fatalf("hit %v, want %v", hit, tc.hit)
			}
		})
	}
	if _, hit := (*List)(nil).Hit(chain); hit {
		t.Fatal("a nil list refuses")
	}
}

func TestSerialBytes(t *testing.T) {
	for _, tc := range []struct {
		n    *big.Int
		want []byte
	}{{big.NewInt(0), []byte{0}}, {big.NewInt(255), []byte{0xff}}, {big.NewInt(256), []byte{1, 0}}} {
		if got := SerialBytes(tc.n); string(got) != string(tc.want) {
			t.Errorf("SerialBytes(%v) = %x, want %x", tc.n, got, tc.want)
		}
	}
}

// serve accepts TLS connections with cfg and hands on those whose
// handshake succeeded.
func serve(t *testing.T, cfg *tls.Config) (addr string, conns <-chan *tls.Conn) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan *tls.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() != nil {
				tc.Close()
				continue
			}
			ch <- tc
		}
	}()
	return ln.Addr().String(), ch
}

func TestCheckerRefusesHandshakeAndClosesOpenConnections(t *testing.T) {
	ca := issue(t, "ca", 1, nil, true)
	server := issue(t, "server", 2, ca, false)
	alice := issue(t, "alice", 3, ca, false)
	bob := issue(t, "bob", 4, ca, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	var checker Checker
	var conns Conns
	base := &tls.Config{Certificates: []tls.Certificate{server.tls()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	addr, accepted := serve(t, checker.Guard(base))
	dial := func(c *testCert) (*tls.Conn, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{c.tls()}})
		if err != nil {
			return nil, err
		}
		// A TLS 1.3 client learns of a refused certificate on its first read.
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = conn.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_ = conn.SetReadDeadline(time.Time{})
			return conn, nil
		}
		conn.Close()
		return nil, err
	}
	aliceConn, err := dial(alice)
	if err != nil {
		t.Fatalf("alice before any revocation: %v", err)
	}
	defer aliceConn.Close()
	srvConn := <-accepted
	if _, ok := checker.Admit(&conns, srvConn, srvConn.ConnectionState(), "test"); !ok {
		t.Fatal("admitted connection refused")
	}
	bobConn, err := dial(bob)
	if err != nil {
		t.Fatal(err)
	}
	defer bobConn.Close()
	bobSrv := <-accepted
	checker.Admit(&conns, bobSrv, bobSrv.ConnectionState(), "test")

	l := NewList([]Entry{ForCertificate(alice.cert, "left")})
	checker.Set(l)
	if n := conns.CloseRevoked(l, nil); n != 1 {
		t.Fatalf("closed %d connections, want alice's 1", n)
	}
	_ = aliceConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, aliceConn); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("alice's open connection was not closed")
		}
	}
	if conns.Len() != 1 {
		t.Fatalf("%d tracked, want bob's 1", conns.Len())
	}
	if _, err := dial(alice); err == nil {
		t.Fatal("a new handshake with alice's revoked certificate succeeded")
	}
	if c, err := dial(bob); err != nil {
		t.Fatalf("bob after alice's revocation: %v", err)
	} else {
		c.Close()
	}
	// Admit after the list changed refuses, so no connection slips
	// between a handshake's check and its tracking.
	if _, ok := checker.Admit(&conns, srvConn, srvConn.ConnectionState(), "test"); ok {
		t.Fatal("Admit accepted a revoked connection")
	}
}

func TestGuardKeepsOwnVerifyConnection(t *testing.T) {
	var checker Checker
	own := errors.New("own check")
	cfg := checker.Guard(&tls.Config{VerifyConnection: func(tls.ConnectionState) error { return own }})
	if err := cfg.VerifyConnection(tls.ConnectionState{}); !errors.Is(err, own) {
		t.Fatalf("got %v", err)
	}
	inner := &tls.Config{}
	outer := checker.Guard(&tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return inner, nil }})
	got, _ := outer.GetConfigForClient(&tls.ClientHelloInfo{})
	if got.VerifyConnection == nil {
		t.Fatal("a per-client configuration is not guarded")
	}
}

func crlOf(t *testing.T, ca *testCert, serials ...int64) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now(), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseCRL(t *testing.T) {
	ca := issue(t, "ca", 1, nil, true)
	stranger := issue(t, "stranger", 1, nil, true)
	der := crlOf(t, ca, 10, 11, 11)
	pemData := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	for name, data := range map[string][]byte{"DER": der, "PEM": pemData} {
		t.Run(name, func(t *testing.T) {
			entries, err := ParseCRL(data, []*x509.Certificate{stranger.cert, ca.cert}, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("%d entries, want 2 (a serial listed twice counts once)", len(entries))
			}
			for _, e := range entries {
				if e.Validate() != nil || string(e.Issuer) != string(Fingerprint(ca.cert)) || e.Reason != "keyCompromise" || !e.NotAfter.Equal(ca.cert.NotAfter) {
					t.Errorf("entry %+v", e)
				}
			}
		})
	}
	if _, err := ParseCRL(der, []*x509.Certificate{stranger.cert}, ""); !errors.Is(err, ErrUntrustedCRL) {
		t.Errorf("CRL of an untrusted CA: %v", err)
	}
	if _, err := ParseCRL([]byte("not a crl"), []*x509.Certificate{ca.cert}, ""); !errors.Is(err, ErrBadCRL) {
		t.Errorf("garbage: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	if _, err := ParseCRL(certPEM, []*x509.Certificate{ca.cert}, ""); !errors.Is(err, ErrBadCRL) {
		t.Errorf("a certificate: %v", err)
	}
	if _, err := ParseCRL(make([]byte, MaxCRLSize+1), []*x509.Certificate{ca.cert}, ""); !errors.Is(err, ErrCRLTooLarge) {
		t.Errorf("too large: %v", err)
	}
	many := make([]int64, MaxCRLEntries+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	if _, err := ParseCRL(crlOf(t, ca, many...), []*x509.Certificate{ca.cert}, ""); !errors.Is(err, ErrCRLTooLarge) {
		t.Errorf("too many entries: %v", err)
	}
	if entries, err := ParseCRL(der, []*x509.Certificate{ca.cert}, "imported"); err != nil || entries[0].Reason != "imported" {
		t.Errorf("given reason: %v %v", entries, err)
	}
}

func TestEntryValidate(t *testing.T) {
	ok := ForCertificate(issue(t, "x", 1, nil, false).cert, "r")
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Reason = strings.Repeat("r", MaxReasonLen+1)
	if err := bad.Validate(); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("long reason: %v", err)
	}
	bad = ok
	bad.Reason = "\xff"
	if err := bad.Validate(); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("reason not UTF-8: %v", err)
	}
}

// TestWatch: the watcher installs each list and closes connections it
// refuses; a kick makes it read a new source.
func TestWatch(t *testing.T) {
	var checker Checker
	e := ForCertificate(issue(t, "x", 1, nil, false).cert, "")
	changed := make(chan struct{})
	src := func() ([]Entry, <-chan struct{}) { return []Entry{e}, changed }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Watch(ctx, func() Source { return src }, nil, &checker, nil, nil); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for checker.List().Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not install the list")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}
