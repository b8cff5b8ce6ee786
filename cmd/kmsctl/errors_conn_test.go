package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// TestConnectionHints makes each common failure happen for real and checks
// that the message names the fix.
func TestConnectionHints(t *testing.T) {
	clearEnv(t)
	addr, devDir, _ := startFakeKMS(t)
	p := devpki.PathsIn(filepath.Join(devDir, "pki"))
	other, err := devpki.Ensure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t)

	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close() })
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.0 400 Bad Request\r\n\r\n")
			_ = c.Close()
		}
	}()

	for _, tc := range []struct {
		name string
		conn []string
		want string
	}{
		{"refused", []string{"--server", closed, "--dev-dir", devDir},
			"kmsctl: no server at " + closed + ": is kmsd running? (kmsd dev prints its address)"},
		{"no client certificate", []string{"--server", addr, "--ca", p.CACert},
			"cannot connect to " + addr + ": the server wants a client certificate: pass --cert/--key or --dev-dir"},
		{"client certificate of another CA", []string{"--server", addr, "--ca", p.CACert, "--cert", other.ClientCert, "--key", other.ClientKey},
			"the server refused the client certificate " + other.ClientCert + ": it is not signed by a CA the server trusts"},
		{"server certificate of another CA", []string{"--server", addr, "--dev-dir", devDir, "--ca", other.CACert},
			"the server's certificate is not signed by the CA in --ca (" + other.CACert + ") (x509: certificate signed by unknown authority)"},
		{"system roots", []string{"--server", addr, "--cert", p.ClientCert, "--key", p.ClientKey},
			"the server's certificate is not signed by a CA this system trusts: pass --ca (or --dev-dir for kmsd dev)"},
		{"not TLS", []string{"--server", plain.Addr().String(), "--dev-dir", devDir},
			plain.Addr().String() + " does not speak TLS: is it the KMIP port (5696 by default)?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails(t, tc.conn, tc.want, "key", "locate")
			// A pinned version sends no Discover Versions: a refusal
			// after the handshake comes with the first request.
			fails(t, append(tc.conn, "--kmip-version", "1.4"), strings.TrimPrefix(tc.want[strings.Index(tc.want, ": ")+2:], "kmsctl: "), "key", "locate")
		})
	}
	t.Run("admin refused", func(t *testing.T) {
		clearAdminEnv(t)
		fails(t, []string{"--admin", closed, "--dev-dir", devDir},
			"node unreachable: "+closed+" (connection refused): is kmsd running? (kmsd dev prints its admin address)", "status")
	})
}

// TestHintFor covers the rules that need a certificate or a resolver this
// test cannot arrange for real.
func TestHintFor(t *testing.T) {
	h := hintContext{addr: "kms.example:5696", caFlag: "--ca", certFlag: "--cert/--key", cert: "c.pem"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{x509.HostnameError{Certificate: &x509.Certificate{}, Host: "kms.example"},
			"the server's certificate does not name the host in kms.example:5696: connect by a name or address it holds (x509: certificate is not valid for any names, but wanted to match kms.example)"},
		{x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired, Detail: "current time is after"},
			"the server's certificate has expired or is not valid yet: check this machine's clock, or renew it (x509: certificate has expired or is not yet valid: current time is after)"},
		{&net.DNSError{Err: "no such host", Name: "kms.example", IsNotFound: true},
			"cannot resolve kms.example: check the host name in kms.example:5696"},
		{fmt.Errorf("read: %w", errors.New("remote error: tls: expired certificate")),
			"the server refused the client certificate c.pem: it has expired (kmsctl pki issue makes a new one)"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET),
			"the server closed the connection: it may have refused the client certificate, or kms.example:5696 is not a KMIP port"},
		{errors.New("remote error: tls: certificate required"),
			"the server wants a client certificate and did not take c.pem"},
	} {
		got := hintFor(tc.err, h)
		if got == nil || got.Error() != tc.want {
			t.Errorf("hintFor(%v)\n = %v\nwant %s", tc.err, got, tc.want)
		}
	}
	if got := hintFor(errors.New("something else"), h); got != nil {
		t.Errorf("an unknown error got the hint %q", got)
	}
}
