package admintest

import (
	"crypto/tls"
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
	// Policy defaults to admin.DefaultPolicy().
	Policy admin.Policy
	// MaxSnapshotSize is passed to admin.Config.
	MaxSnapshotSize int64
	// Logger defaults to Logger(t).
	Logger *slog.Logger
}

// Serve starts an admin.Server for c on a loopback port with serverTLS and
// the authorization interceptors, and returns its address. The server stops
// when the test ends.
func Serve(t testing.TB, c admin.Cluster, serverTLS *tls.Config, opts Options) string {
	t.Helper()
	if opts.Policy == nil {
		opts.Policy = admin.DefaultPolicy()
	}
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(admin.ServerOptions(opts.Policy, opts.Logger),
		grpc.Creds(credentials.NewTLS(serverTLS)),
		// Stop waits for handlers, so none logs after the test ended.
		grpc.WaitForHandlers(true),
	)...)
	admin.NewServer(admin.Config{Cluster: c, Logger: opts.Logger, MaxSnapshotSize: opts.MaxSnapshotSize}).Register(g)
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
