package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
)

// echoServer serves TLS with cfg and echoes what each client sends.
func echoServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// servedCert dials addr with the development client certificate, checks
// an echo, and returns the certificate the server presented with the
// connection, still open.
func servedCert(t *testing.T, p devpki.Paths, addr string) (*x509.Certificate, *tls.Conn) {
	t.Helper()
	cfg, err := devpki.ClientTLS(p.CACert, p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	echo(t, conn)
	return conn.ConnectionState().PeerCertificates[0], conn
}

func echo(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(conn, b); err != nil || b[0] != 7 {
		t.Fatalf("echo: %v", err)
	}
}

// writeKeyPair writes cert and its key as PEM files.
func writeKeyPair(t *testing.T, cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSReload: reload serves new certificates to new handshakes while
// open connections go on; files that fail keep what is in use, with an
// error that names the file.
func TestTLSReload(t *testing.T) {
	p, files := devFiles(t, "node-1")
	var cfg config
	if err := loadTLS(&cfg, files, discard()); err != nil {
		t.Fatal(err)
	}
	kmipAddr := echoServer(t, cfg.KMIPTLS)
	before, open := servedCert(t, p, kmipAddr)

	ca, err := devpki.LoadAuthority(p.CACert, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	next, err := ca.Issue("kmsd server, renewed", nil)
	if err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, next, p.ServerCert, p.ServerKey)
	if err := cfg.TLS.reload(); err != nil {
		t.Fatal(err)
	}
	after, _ := servedCert(t, p, kmipAddr)
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || after.Subject.CommonName != "kmsd server, renewed" {
		t.Fatalf("after reload the KMIP port presents %q serial %v", after.Subject.CommonName, after.SerialNumber)
	}
	echo(t, open)

	// A key that does not match its certificate: the renewed certificate
	// stays in use.
	other, err := ca.Issue("other", nil)
	if err != nil {
		t.Fatal(err)
	}
	keyOnly := filepath.Join(t.TempDir(), "cert.pem")
	writeKeyPair(t, other, keyOnly, p.ServerKey)
	err = cfg.TLS.reload()
	if err == nil || !strings.Contains(err.Error(), p.ServerKey) {
		t.Fatalf("mismatched key: %v, want an error naming %s", err, p.ServerKey)
	}
	if got, _ := servedCert(t, p, kmipAddr); got.SerialNumber.Cmp(after.SerialNumber) != 0 {
		t.Fatal("a failed reload changed the certificate")
	}
	if err := os.WriteFile(p.CACert, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cfg.TLS.reload(); err == nil || !strings.Contains(err.Error(), "--client-ca") {
		t.Fatalf("unreadable CA bundle: %v", err)
	}

	// A node certificate that names another node is refused.
	nodeCA, err := devpki.LoadAuthority(p.NodeCACert, p.NodeCAKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := nodeCA.IssueNode("node-2")
	if err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, stranger, files.nodeCert, files.nodeKey)
	if err := cfg.TLS.reload(); err == nil {
		t.Fatal("reload took the certificate of another node")
	}
}

// TestSIGHUPReloads sends the process a real SIGHUP.
func TestSIGHUPReloads(t *testing.T) {
	p, files := devFiles(t, "node-1")
	var cfg config
	if err := loadTLS(&cfg, files, discard()); err != nil {
		t.Fatal(err)
	}
	nodeAddr := echoServer(t, cfg.NodeServerTLS)
	nodeCA, err := devpki.LoadAuthority(p.NodeCACert, p.NodeCAKey)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := nodeCA.IssueNode("node-1")
	if err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, renewed, files.nodeCert, files.nodeKey)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloadOnSIGHUP(ctx, cfg.TLS)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	client, err := devpki.ClientTLS(p.NodeCACert, files.nodeCert, files.nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		conn, err := tls.Dial("tcp", nodeAddr, client)
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(renewed.Leaf.SerialNumber) == 0
	}, "the Raft port presents the renewed node certificate")
}

// TestTLSVersionsAndSuites: by default no port accepts TLS 1.1 or a TLS
// 1.2 client that offers only CBC suites; with --tls-legacy the KMIP port
// accepts the CBC client and the gRPC and Raft ports still refuse it.
func TestTLSVersionsAndSuites(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		cfg := testHostConfig(t, seal.InitOptions{})
		cfg.TLSLegacy = legacy
		if err := loadTLS(&cfg, cfg.TLS.files, discard()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		h, err := start(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		waitServing(t, h)
		p := devpki.PathsIn(filepath.Join(filepath.Dir(cfg.DataDir), "pki"))
		ports := []struct {
			name, addr, ca, cert, key string
			cbcOK                     bool
		}{
			{"KMIP", h.kmipAddr, p.CACert, p.ClientCert, p.ClientKey, legacy},
			{"gRPC", h.grpcLn.Addr().String(), p.NodeCACert, p.AdminCert, p.AdminKey, false},
			{"Raft", cfg.RaftAddr, p.NodeCACert, cfg.TLS.files.nodeCert, cfg.TLS.files.nodeKey, false},
		}
		for _, port := range ports {
			base, err := devpki.ClientTLS(port.ca, port.cert, port.key)
			if err != nil {
				t.Fatal(err)
			}
			try := func(mod func(*tls.Config)) error {
				c := base.Clone()
				c.ServerName = "127.0.0.1"
				mod(c)
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", port.addr, c)
				if err == nil {
					conn.Close()
				}
				return err
			}
			if err := try(func(c *tls.Config) {}); err != nil {
				t.Errorf("legacy %v, %s: the default client is refused: %v", legacy, port.name, err)
			}
			if err := try(func(c *tls.Config) {
				c.MinVersion, c.MaxVersion, c.CipherSuites = tls.VersionTLS10, tls.VersionTLS11, nil
			}); err == nil {
				t.Errorf("legacy %v, %s: a TLS 1.1 client is accepted", legacy, port.name)
			}
			err = try(func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
			})
			if (err == nil) != port.cbcOK {
				t.Errorf("legacy %v, %s: a TLS 1.2 CBC-only client: %v, want accepted %v", legacy, port.name, err, port.cbcOK)
			}
		}
		h.shutdown()
		cancel()
	}
}
