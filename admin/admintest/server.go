package admintest

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/admin"
)

// Options adjust Serve.
type Options struct {
	// Policy defaults to admin.DefaultPolicy(AdminCAs, NodeCAs).
	Policy admin.Policy
	// AdminCAs and NodeCAs are the trust anchors of the default policy.
	AdminCAs, NodeCAs []*x509.Certificate
	// MaxSnapshotSize is passed to admin.Config.
	MaxSnapshotSize int64
	// Logger defaults to Logger(t).
	Logger *slog.Logger
	// Seal is passed to admin.Config.
	Seal admin.SealControl
	// AccessPolicy and PKI are passed to admin.Config.
	AccessPolicy admin.AccessPolicy
	PKI          admin.CertificateAuthority
	// Audit, when set, records every admin call (admin.AuditOptions).
	Audit admin.Auditor
	// AuditKeys, MaxAuditLines and MaxAuditBytes are passed to
	// admin.Config.
	AuditKeys     admin.AuditKeys
	MaxAuditLines int64
	MaxAuditBytes int64
	// Revocation and Usage are passed to admin.Config.
	Revocation admin.RevocationControl
	Usage      admin.UsageSource
}

// Serve starts an admin.Server for c on a loopback port with serverTLS and
// the authorization interceptors, and returns its address. The server stops
// when the test ends.
func Serve(t testing.TB, c admin.Cluster, serverTLS *tls.Config, opts Options) string {
	t.Helper()
	if opts.Policy == nil {
		opts.Policy = admin.DefaultPolicy(opts.AdminCAs, opts.NodeCAs)
	}
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sopts []grpc.ServerOption
	if opts.Audit != nil {
		sopts = admin.AuditOptions(opts.Audit)
	}
	g := grpc.NewServer(append(append(sopts, admin.ServerOptions(opts.Policy, opts.Logger)...),
		grpc.Creds(credentials.NewTLS(serverTLS)),
		// Stop waits for handlers, so none logs after the test ended.
		grpc.WaitForHandlers(true),
	)...)
	admin.NewServer(admin.Config{Cluster: c, Logger: opts.Logger, MaxSnapshotSize: opts.MaxSnapshotSize, Seal: opts.Seal,
		AccessPolicy: opts.AccessPolicy, PKI: opts.PKI, Revocation: opts.Revocation, Usage: opts.Usage,
		AuditKeys: opts.AuditKeys, MaxAuditLines: opts.MaxAuditLines, MaxAuditBytes: opts.MaxAuditBytes}).Register(g)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(ln)
	}()
	t.Cleanup(func() {
		g.Stop()
		<-done
	})
	return ln.Addr().String()
}

// Serve is the package's Serve with this PKI's ServerTLS, and its admin
// and node CAs as the default policy's anchors.
func (p *PKI) Serve(t testing.TB, c admin.Cluster, opts Options) string {
	t.Helper()
	if opts.AdminCAs == nil && opts.NodeCAs == nil {
		opts.AdminCAs, opts.NodeCAs = p.AdminCAs(), p.NodeCAs()
	}
	return Serve(t, c, p.ServerTLS(t), opts)
}

// Dial returns a client connection to addr with clientTLS, closed when the
// test ends.
func Dial(t testing.TB, addr string, clientTLS *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Logger returns a logger that writes through t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
