package main

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// clearAdminEnv keeps the developer's KMSCTL_* settings out of the tests.
func clearAdminEnv(t *testing.T) {
	t.Helper()
	clearEnv(t)
	for _, e := range []string{envAdmin, envAdminCA, envAdminCert, envAdminKey} {
		t.Setenv(e, "")
	}
}

// adminEnv is a fake cluster's admin API served over mutual TLS with a
// fresh dev PKI.
type adminEnv struct {
	fake   *admintest.FakeCluster
	addr   string
	devDir string
	conn   []string // the flags that reach it with the admin certificate
}

func startAdmin(t *testing.T) *adminEnv {
	t.Helper()
	e := &adminEnv{fake: admintest.NewFakeCluster(), devDir: t.TempDir()}
	e.addr = serveAdmin(t, e.devDir, e.fake)
	e.conn = []string{"--admin", e.addr, "--dev-dir", e.devDir}
	return e
}

// serveAdmin serves fake as a node's gRPC port does, with devDir's PKI
// (created if needed): it presents node-1's certificate, accepts callers of
// the admin and node CAs, and admits operators of the admin CA to the admin
// API. It returns the address.
func serveAdmin(t *testing.T, devDir string, fake *admintest.FakeCluster) string {
	t.Helper()
	return serveAdminWith(t, devDir, fake, admintest.Options{})
}

// serveAdminWith is serveAdmin with options; the policy's CAs are the dev
// PKI's.
func serveAdminWith(t *testing.T, devDir string, fake *admintest.FakeCluster, opts admintest.Options) string {
	t.Helper()
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
	cfg := devpki.ServerConfig(cert, devpki.NewPool(append(slices.Clone(adminCAs), nodeCAs...)...))
	opts.AdminCAs, opts.NodeCAs = adminCAs, nodeCAs
	return admintest.Serve(t, fake, cfg, opts)
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestResolveAdmin(t *testing.T) {
	pki := func(dir, name string) string { return filepath.Join(dir, "pki", name) }
	tests := []struct {
		name    string
		flags   globalFlags
		admin   adminFlags
		set     []string
		env     map[string]string
		want    connConfig
		wantErr string
	}{
		{
			name:  "dev-dir gives the admin certificate",
			flags: globalFlags{devDir: "/d"},
			admin: adminFlags{addr: defaultAdmin},
			set:   []string{"dev-dir"},
			want:  connConfig{server: defaultAdmin, ca: pki("/d", "node-ca.pem"), cert: pki("/d", "admin.pem"), key: pki("/d", "admin.key")},
		},
		{
			name:  "--cert overrides the dev admin certificate",
			flags: globalFlags{devDir: "/d", cert: "c.pem", key: "c.key"},
			set:   []string{"dev-dir", "cert", "key"},
			want:  connConfig{server: defaultAdmin, ca: pki("/d", "node-ca.pem"), cert: "c.pem", key: "c.key"},
		},
		{
			name:  "--admin-ca beats --ca and the dev node CA",
			flags: globalFlags{devDir: "/d", ca: "kmip-ca.pem"},
			admin: adminFlags{ca: "node-ca.pem"},
			set:   []string{"dev-dir", "ca", "admin-ca"},
			env:   map[string]string{envAdminCA: "env-admin-ca.pem", envCA: "env-ca.pem"},
			want:  connConfig{server: defaultAdmin, ca: "node-ca.pem", cert: pki("/d", "admin.pem"), key: pki("/d", "admin.key")},
		},
		{
			name:  "--ca is the default admin CA",
			flags: globalFlags{ca: "ca.pem", cert: "a.pem", key: "a.key"},
			set:   []string{"ca", "cert", "key"},
			env:   map[string]string{envAdminCA: "env-admin-ca.pem"},
			want:  connConfig{server: defaultAdmin, ca: "ca.pem", cert: "a.pem", key: "a.key"},
		},
		{
			name:  "KMSCTL_ADMIN_CA beats KMSCTL_CA and the dev node CA",
			flags: globalFlags{devDir: "/d"},
			set:   []string{"dev-dir"},
			env:   map[string]string{envAdminCA: "env-admin-ca.pem", envCA: "env-ca.pem"},
			want:  connConfig{server: defaultAdmin, ca: "env-admin-ca.pem", cert: pki("/d", "admin.pem"), key: pki("/d", "admin.key")},
		},
		{
			name:  "KMSCTL_CA beats the dev node CA",
			flags: globalFlags{devDir: "/d"},
			set:   []string{"dev-dir"},
			env:   map[string]string{envCA: "env-ca.pem"},
			want:  connConfig{server: defaultAdmin, ca: "env-ca.pem", cert: pki("/d", "admin.pem"), key: pki("/d", "admin.key")},
		},
		{
			name:  "--admin-cert beats --cert",
			flags: globalFlags{cert: "c.pem", key: "c.key"},
			admin: adminFlags{cert: "a.pem", key: "a.key"},
			set:   []string{"cert", "key", "admin-cert", "admin-key"},
			want:  connConfig{server: defaultAdmin, cert: "a.pem", key: "a.key"},
		},
		{
			name:  "flags beat env",
			flags: globalFlags{cert: "c.pem", key: "c.key"},
			admin: adminFlags{addr: "flag:1"},
			set:   []string{"cert", "key", "admin"},
			env:   map[string]string{envAdmin: "env:1", envAdminCert: "ea.pem", envAdminKey: "ea.key"},
			want:  connConfig{server: "flag:1", cert: "c.pem", key: "c.key"},
		},
		{
			name: "admin env beats generic env and dev-dir",
			env: map[string]string{envAdmin: "env:1", envDevDir: "/e", envCert: "ec.pem", envKey: "ec.key",
				envAdminCert: "ea.pem", envAdminKey: "ea.key"},
			want: connConfig{server: "env:1", ca: pki("/e", "node-ca.pem"), cert: "ea.pem", key: "ea.key"},
		},
		{
			name:    "admin cert without key",
			admin:   adminFlags{cert: "a.pem"},
			set:     []string{"admin-cert"},
			wantErr: "must be given together",
		},
		{
			name:    "no certificate at all",
			wantErr: "needs an admin certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := func(name string) bool { return slices.Contains(tt.set, name) }
			getenv := func(k string) string { return tt.env[k] }
			got, err := resolveAdmin(tt.flags, tt.admin, set, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTransportCause(t *testing.T) {
	for msg, want := range map[string]string{
		`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`:                                                                                                                                                                              " (connection refused)",
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`:                                                                                                                                   " (TLS handshake failed: failed to verify certificate: x509: certificate signed by unknown authority)",
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"kmsd dev CA\")"`: " (TLS handshake failed: failed to verify certificate: x509: certificate signed by unknown authority)",
		"write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe": " (connection closed during the TLS handshake: the node may have refused this client certificate)",
		"something else": "",
	} {
		if got := transportCause(msg); got != want {
			t.Errorf("transportCause(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestAdminConnectionErrors(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	p := devpki.PathsIn(filepath.Join(e.devDir, "pki"))

	commands := [][]string{{"status"}, {"cluster", "members"}, {"cluster", "remove", "n2"}, {"snapshot", "save", filepath.Join(t.TempDir(), "s")}}
	t.Run("KMIP client certificate is refused", func(t *testing.T) {
		// The TLS layer refuses it: the gRPC port does not trust the KMIP
		// CA. A write may fail before the server's alert is read.
		for _, args := range commands {
			fails(t, append(slices.Clone(e.conn), "--cert", p.ClientCert, "--key", p.ClientKey), "refused this client certificate", args...)
		}
	})
	t.Run("node certificate is not authorised", func(t *testing.T) {
		for _, args := range commands {
			fails(t, append(slices.Clone(e.conn), "--cert", p.NodeCert("node-1"), "--key", p.NodeKey("node-1")), notAuthorised, args...)
		}
	})
	t.Run("server verified with the KMIP CA", func(t *testing.T) {
		fails(t, append(slices.Clone(e.conn), "--ca", p.CACert), "verify it with the node CA (--admin-ca)", "status")
	})
	t.Run("--admin-ca", func(t *testing.T) {
		ok(t, []string{"--admin", e.addr, "--admin-ca", p.NodeCACert, "--admin-cert", p.AdminCert, "--admin-key", p.AdminKey}, "status")
	})
	t.Run("nobody listening", func(t *testing.T) {
		addr := closedPort(t)
		fails(t, []string{"--admin", addr, "--dev-dir", e.devDir}, "node unreachable: "+addr+" (connection refused)", "status")
	})
	t.Run("untrusted server", func(t *testing.T) {
		other := t.TempDir()
		if _, err := devpki.Ensure(filepath.Join(other, "pki")); err != nil {
			t.Fatal(err)
		}
		fails(t, []string{"--admin", e.addr, "--dev-dir", other}, "node unreachable: "+e.addr+" (TLS handshake failed", "status")
	})
	t.Run("no certificate", func(t *testing.T) {
		fails(t, []string{"--admin", e.addr}, "needs an admin certificate", "status")
	})
}
