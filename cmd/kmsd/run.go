package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/clusterpb"
)

// config is everything a node needs to run; flags fill it in.
type config struct {
	DataDir    string
	NodeID     string
	KMIPAddr   string
	AdminAddr  string
	RaftAddr   string
	GossipAddr string
	// AdminAdvertise and RaftAdvertise are the addresses peers dial when
	// they are not the listen addresses; empty: the listen addresses.
	AdminAdvertise, RaftAdvertise string
	Join                          []string
	JoinToken                     string
	Bootstrap                     bool
	// Seal is how a new cluster (or a joining node) protects its root key.
	Seal seal.InitOptions
	// UnsealPassphrase and PKCS11PIN unseal at start without an operator;
	// without them a passphrase or pkcs11 node starts sealed.
	UnsealPassphrase []byte
	PKCS11PIN        string

	// TLS of the three trust domains (see loadTLS).
	KMIPTLS       *tls.Config // KMIP listener: KMIP certificate; clients of the client CA
	NodeServerTLS *tls.Config // Raft listener: node certificate; peers of the node CA only
	NodeClientTLS *tls.Config // dialing other nodes: node certificate; trusts the node CA only
	GRPCTLS       *tls.Config // gRPC port: node certificate; callers of the admin or node CA
	// TLS is the material behind the four configurations above, which
	// reload replaces (SIGHUP).
	TLS *tlsState
	// AdminCAs and NodeCAs are the trust anchors that tell operators and
	// nodes apart on the gRPC port.
	AdminCAs, NodeCAs []*x509.Certificate
	GossipKey         []byte

	MaxMessageSize  int
	ConsistentReads bool

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	Autopilot         cluster.AutopilotConfig

	// Limits; zero values get the packages' defaults.
	Limits limits

	// Audit is where audit lines go; AuditStdout receives them with
	// --audit-stdout.
	Audit       auditFlags
	AuditStdout io.Writer
	// TLSLegacy lets the KMIP port accept TLS 1.2 CBC suites too.
	TLSLegacy bool
}

// newGRPCServer serves the admin API (certificates of the admin CA with
// Organization kmsd-admins) and the node-to-node service (certificates of
// the node CA that name a node id) on one mutual-TLS port.
func newGRPCServer(cfg config, h *host, logger *slog.Logger) *grpc.Server {
	policy := admin.DefaultPolicy(cfg.AdminCAs, cfg.NodeCAs)
	opts := append([]grpc.ServerOption{
		grpc.Creds(h.guard.Credentials(credentials.NewTLS(h.guard.TLS(cfg.GRPCTLS)), "grpc")),
		grpc.MaxRecvMsgSize(8 << 20),
	}, admin.AuditOptions(h.audit)...)
	opts = append(opts, admin.ServerOptions(policy, logger)...)
	if d := cfg.Limits.HandshakeTimeout; d > 0 {
		// Bounds the TLS handshake and the HTTP/2 preface of a new
		// connection (gRPC's own default is 120s).
		opts = append(opts, grpc.ConnectionTimeout(d))
	}
	g := grpc.NewServer(opts...)
	admin.NewServer(admin.Config{Cluster: h, Seal: h, Keyring: h, AccessPolicy: h, PKI: h, AuditKeys: h.barrier, Revocation: h, Usage: h, Logger: logger}).Register(g)
	clusterpb.RegisterClusterServer(g, nodeService{h: h})
	return g
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
