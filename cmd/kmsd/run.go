package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip"
)

// config is everything a node needs to run; flags fill it in.
type config struct {
	DataDir    string
	NodeID     string
	KMIPAddr   string
	AdminAddr  string
	RaftAddr   string
	GossipAddr string
	Join       []string
	Bootstrap  bool

	// TLS of the three trust domains (see loadTLS).
	KMIPTLS       *tls.Config // KMIP listener: KMIP certificate; clients of the client CA
	NodeServerTLS *tls.Config // Raft listener: node certificate; peers of the node CA only
	NodeClientTLS *tls.Config // dialing other nodes: node certificate; trusts the node CA only
	GRPCTLS       *tls.Config // gRPC port: node certificate; callers of the admin or node CA
	// AdminCAs and NodeCAs are the trust anchors that tell operators and
	// nodes apart on the gRPC port.
	AdminCAs, NodeCAs []*x509.Certificate
	GossipKey         []byte

	MaxMessageSize  int
	ConsistentReads bool

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	Autopilot         cluster.AutopilotConfig
}

// node is a running kmsd: the state machine, raft, gossip, the gRPC server
// (admin API and node service) and the KMIP listener.
type node struct {
	logger   *slog.Logger
	raft     *cluster.Node
	kmip     *kmip.Server
	grpc     *grpc.Server
	kmipLn   net.Listener
	grpcLn   net.Listener
	served   chan error
	kmipAddr string
}

// start brings a node up and returns once it serves KMIP.
func start(ctx context.Context, cfg config, logger *slog.Logger) (*node, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keyring, err := cluster.LoadOrCreateKeyring(filepath.Join(cfg.DataDir, "node.key"))
	if err != nil {
		return nil, err
	}
	grpcLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	kmipLn, err := net.Listen("tcp", cfg.KMIPAddr)
	if err != nil {
		grpcLn.Close()
		return nil, fmt.Errorf("KMIP listener: %w", err)
	}
	store := fsm.New(fsm.Config{Logger: logger})
	rn, err := cluster.New(cluster.Config{
		NodeID: cfg.NodeID, DataDir: cfg.DataDir, Version: version,
		RaftAddr: cfg.RaftAddr, AdminAddr: grpcLn.Addr().String(), KMIPAddr: kmipLn.Addr().String(),
		GossipAddr: cfg.GossipAddr, GossipKey: cfg.GossipKey,
		Bootstrap: cfg.Bootstrap, Keyring: keyring,
		ServerTLS: cfg.NodeServerTLS, ClientTLS: cfg.NodeClientTLS, NodeCAs: cfg.NodeCAs,
		SnapshotThreshold: cfg.SnapshotThreshold, SnapshotInterval: cfg.SnapshotInterval,
		Autopilot: cfg.Autopilot,
		Logger:    logger,
	}, store)
	if err != nil {
		grpcLn.Close()
		kmipLn.Close()
		return nil, err
	}
	n := &node{logger: logger, raft: rn, grpcLn: grpcLn, kmipLn: kmipLn, served: make(chan error, 2), kmipAddr: kmipLn.Addr().String()}
	n.grpc = newGRPCServer(cfg, rn, logger)
	go func() { n.served <- n.grpc.Serve(grpcLn) }()

	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := rn.JoinAny(readyCtx, cfg.Join); err != nil {
		n.stopCluster()
		return nil, fmt.Errorf("joining the cluster: %w", err)
	}
	if err := rn.WaitReady(readyCtx); err != nil {
		n.stopCluster()
		return nil, fmt.Errorf("waiting for the log to be applied: %w", err)
	}
	logger.Info("state machine ready", "objects", store.Count(), "applied_index", store.AppliedIndex())

	svc := kmip.NewService(kmip.Config{Replicator: rn, Store: store, Sealer: keyring, Logger: logger, ConsistentReads: cfg.ConsistentReads})
	n.kmip = kmip.NewServer(kmip.ServerConfig{TLS: cfg.KMIPTLS, MaxMessageSize: cfg.MaxMessageSize, Logger: logger}, svc)
	go func() { n.served <- n.kmip.Serve(kmipLn) }()
	logger.Info("serving", "kmip", n.kmipAddr, "admin", grpcLn.Addr().String(), "raft", rn.RaftAddr())
	return n, nil
}

// newGRPCServer serves the admin API (certificates of the admin CA with
// Organization kmsd-admins) and the node-to-node service (certificates of
// the node CA that name a node id) on one mutual-TLS port.
func newGRPCServer(cfg config, rn *cluster.Node, logger *slog.Logger) *grpc.Server {
	policy := admin.DefaultPolicy(cfg.AdminCAs, cfg.NodeCAs)
	opts := append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(cfg.GRPCTLS)),
		grpc.MaxRecvMsgSize(8 << 20),
	}, admin.ServerOptions(policy, logger)...)
	g := grpc.NewServer(opts...)
	admin.NewServer(admin.Config{Cluster: rn, Logger: logger}).Register(g)
	rn.RegisterGRPC(g)
	return g
}

// wait blocks until ctx ends or a listener fails, then shuts down.
func (n *node) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-n.served:
	}
	n.shutdown()
	return err
}

func (n *node) shutdown() {
	n.logger.Info("shutting down")
	_ = n.kmipLn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.kmip != nil {
		n.kmip.Shutdown(ctx)
	}
	n.stopCluster()
}

func (n *node) stopCluster() {
	if err := n.raft.Shutdown(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
		n.logger.Warn("raft shutdown", "err", err)
	}
	stopped := make(chan struct{})
	go func() { n.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		n.grpc.Stop()
	}
	_ = n.grpcLn.Close()
	_ = n.kmipLn.Close()
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
