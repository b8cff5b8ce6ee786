package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// Every limit has a bounded default (the rate limit excepted: it is off
// until set), and each can come from the config file.
func TestLimitFlags(t *testing.T) {
	c, err := parseServe(t, "")
	if err != nil {
		t.Fatal(err)
	}
	l := c.config().Limits
	want := limits{
		HandshakeTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute, ReadTimeout: 30 * time.Second,
		RequestTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxConns: kmsdkmip.DefaultMaxConns, MaxConnsPerClient: kmsdkmip.DefaultMaxConnsPerClient,
		MaxKeyPairGenerations: kmsdkmip.DefaultMaxKeyPairGenerations(), LocateMaxItems: kmsdkmip.DefaultLocateMaxItems,
	}
	if l != want {
		t.Errorf("defaults %+v, want %+v", l, want)
	}

	file := writeConfig(t, `{"handshake-timeout": "2s", "kmip-read-timeout": "5s", "kmip-max-conns": 100,
		"kmip-max-conns-per-client": 10, "kmip-rate-limit": 50, "kmip-rate-burst": 200, "kmip-locate-max-items": 500}`)
	c, err = parseServe(t, file, "--kmip-max-keypair-generations", "3")
	if err != nil {
		t.Fatal(err)
	}
	l = c.config().Limits
	if l.HandshakeTimeout != 2*time.Second || l.ReadTimeout != 5*time.Second || l.MaxConns != 100 || l.MaxConnsPerClient != 10 ||
		l.RateLimit != 50 || l.RateBurst != 200 || l.LocateMaxItems != 500 || l.MaxKeyPairGenerations != 3 {
		t.Errorf("config file values not applied: %+v", l)
	}

	for _, args := range [][]string{
		{"--kmip-read-timeout", "0s"},
		{"--handshake-timeout", "-1s"},
		{"--kmip-max-conns", "0"},
		{"--kmip-max-conns-per-client", "-5"},
		{"--kmip-rate-limit", "-1"},
		{"--kmip-locate-max-items", "0"},
		{"--kmip-max-keypair-generations", "0"},
	} {
		if _, err := parseServe(t, "", args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, err := parseServe(t, "", "--kmip-rate-limit", "0", "--kmip-rate-burst", "0"); err != nil {
		t.Errorf("no rate limit refused: %v", err)
	}
}

// TestDevNodesGetTheLimits: the nodes of kmsd dev --nodes run with the
// limits given to kmsd dev.
func TestDevNodesGetTheLimits(t *testing.T) {
	c, err := parseServe(t, "", "--data-dir", t.TempDir(), "--kmip-max-conns", "77", "--kmip-read-timeout", "7s")
	if err != nil {
		t.Fatal(err)
	}
	pki, err := devpki.Ensure(filepath.Join(c.dataDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	dn, err := writeDevNode(c, 1, pki, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("kmsd serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var node serveFlags
	node.register(fs)
	if err := parseWithConfig(fs, []string{"--config", dn.config}, &node.configFile); err != nil {
		t.Fatalf("the node's config file: %v", err)
	}
	if got := node.config().Limits; got != c.config().Limits {
		t.Errorf("node limits %+v, want %+v", got, c.config().Limits)
	}
}

// TestHostHandshakeTimeouts: on each of the KMIP, Raft and gRPC ports a
// TCP connection that never starts TLS is closed after the handshake
// timeout, and the node goes on serving KMIP.
func TestHostHandshakeTimeouts(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	cfg.Limits.HandshakeTimeout = 300 * time.Millisecond
	h := serveHost(t, cfg)
	for name, addr := range map[string]string{"KMIP": h.kmipAddr, "Raft": cfg.RaftAddr, "gRPC": h.grpcLn.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a connection that never started TLS is still open")
			}
		})
	}
	kmipQuery(t, filepath.Join(filepath.Dir(cfg.DataDir), "pki"), h.kmipAddr)
}

// kmipQuery runs a Query with the development client certificate.
func kmipQuery(t *testing.T, pkiDir, addr string) {
	t.Helper()
	p := devpki.PathsIn(pkiDir)
	cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := kmip.NewRequestMessage(kmip.V1_2, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})
	b, err := kmiptest.RoundTrip(conn, ttlv.MarshalTTLV(&req), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp := kmiptest.DecodeResponse(t, b); resp.BatchItem[0].ResultStatus != kmip.ResultStatusSuccess {
		t.Fatalf("Query answered %v %q", resp.BatchItem[0].ResultReason, resp.BatchItem[0].ResultMessage)
	}
}
