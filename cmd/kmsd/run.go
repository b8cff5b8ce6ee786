package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip"
)

// config is everything a node needs to run; flags fill it in.
type config struct {
	DataDir        string
	NodeID         string
	KMIPAddr       string
	RaftAddr       string
	Bootstrap      bool
	TLS            *tls.Config
	MaxMessageSize int

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
}

// node is a running kmsd: the state machine, raft and the KMIP listener.
type node struct {
	logger   *slog.Logger
	raft     *cluster.Node
	kmip     *kmip.Server
	listener net.Listener
	served   chan error
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
	store := fsm.New(fsm.Config{Logger: logger})
	rn, err := cluster.New(cluster.Config{
		NodeID:    cfg.NodeID,
		DataDir:   cfg.DataDir,
		RaftAddr:  cfg.RaftAddr,
		Bootstrap: cfg.Bootstrap,
		Logger:    logger,

		SnapshotThreshold: cfg.SnapshotThreshold,
		SnapshotInterval:  cfg.SnapshotInterval,
	}, store)
	if err != nil {
		return nil, err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rn.WaitReady(readyCtx); err != nil {
		_ = rn.Shutdown()
		return nil, fmt.Errorf("waiting for the log to be applied: %w", err)
	}
	logger.Info("state machine ready", "objects", store.Count(), "applied_index", store.AppliedIndex())

	svc := kmip.NewService(kmip.Config{Replicator: rn, Store: store, Sealer: keyring, Logger: logger})
	srv := kmip.NewServer(kmip.ServerConfig{TLS: cfg.TLS, MaxMessageSize: cfg.MaxMessageSize, Logger: logger}, svc)
	ln, err := net.Listen("tcp", cfg.KMIPAddr)
	if err != nil {
		_ = rn.Shutdown()
		return nil, fmt.Errorf("KMIP listener: %w", err)
	}
	n := &node{logger: logger, raft: rn, kmip: srv, listener: ln, served: make(chan error, 1)}
	go func() { n.served <- srv.Serve(ln) }()
	logger.Info("serving KMIP", "addr", ln.Addr().String())
	return n, nil
}

// wait blocks until ctx ends or the listener fails, then shuts down.
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
	_ = n.listener.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.kmip.Shutdown(ctx)
	if err := n.raft.Shutdown(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
		n.logger.Warn("raft shutdown", "err", err)
	}
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
