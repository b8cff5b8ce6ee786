package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip"
)

// host is one kmsd node through its seal states. The gRPC server (admin API
// and node service) and the KMIP listener run for the whole process. Raft,
// the state machine and the KMIP service's work run only while the barrier
// holds the root key: a sealed node answers SealStatus, Unseal and Status on
// the admin API, refuses every KMIP request with a fixed error, and is not a
// Raft member that votes or replicates.
type host struct {
	cfg     config
	logger  *slog.Logger
	barrier *seal.Barrier
	// audit records every KMIP batch item and admin call; auditFile is
	// its file, "" without one.
	audit     *audit.Log
	auditFile string

	grpc     *grpc.Server
	grpcLn   net.Listener
	kmipLn   net.Listener
	kmip     *kmip.Server
	served   chan error
	kmipAddr string

	// mu serialises seal, unseal and bring-up.
	mu sync.Mutex
	// node and store are the running Raft node and its state machine; nil
	// while sealed.
	node  atomic.Pointer[cluster.Node]
	store atomic.Pointer[fsm.FSM]
	// serving is set once the node has caught up and has a keyring.
	serving atomic.Bool
	// shares counts the Shamir shares accepted since the last unseal.
	shares atomic.Int32

	// stop ends a bring-up that waits for the cluster.
	stopMu sync.Mutex
	stop   context.CancelFunc

	// guard is the certificate deny list of every port (revoke.go);
	// revKick wakes its watcher, which stopWatch ends.
	guard     *denylist.Guard
	revKick   chan struct{}
	stopWatch context.CancelFunc
}

// bringUpContext returns a context that Seal and shutdown cancel.
func (h *host) bringUpContext(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	h.stopMu.Lock()
	h.stop = cancel
	h.stopMu.Unlock()
	return ctx
}

// cancelBringUp ends a bring-up in progress, so that h.mu is released.
func (h *host) cancelBringUp() {
	h.stopMu.Lock()
	defer h.stopMu.Unlock()
	if h.stop != nil {
		h.stop()
	}
}

// start opens the listeners, unseals the barrier when it can do so
// without an operator (file seal, passphrase or PIN given, a new cluster),
// and, unsealed, brings Raft up and serves KMIP. A node that cannot unseal
// by itself stays sealed and waits for `kmsctl operator unseal`.
func start(ctx context.Context, cfg config, logger *slog.Logger) (*host, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	h := &host{cfg: cfg, logger: logger, served: make(chan error, 2), guard: denylist.NewGuard(), revKick: make(chan struct{}, 1)}
	h.barrier = seal.NewBarrier(h)
	joining, err := h.unsealAtStart()
	if err != nil {
		return nil, err
	}
	if h.audit, h.auditFile, err = openAudit(cfg.Audit, cfg.DataDir, cfg.NodeID, h.barrier, cfg.AuditStdout, logger); err != nil {
		return nil, err
	}
	if cfg.AdminAdvertise != "" {
		if err := cluster.CheckAdvertise(cfg.AdminAdvertise); err != nil {
			_ = h.audit.Close()
			return nil, fmt.Errorf("--admin-advertise: %w", err)
		}
	}
	if h.grpcLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		_ = h.audit.Close()
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if h.kmipLn, err = net.Listen("tcp", cfg.KMIPAddr); err != nil {
		h.grpcLn.Close()
		_ = h.audit.Close()
		return nil, fmt.Errorf("KMIP listener: %w", err)
	}
	h.kmipAddr = h.kmipLn.Addr().String()
	h.grpc = newGRPCServer(cfg, h, logger)
	go func() { h.served <- h.grpc.Serve(h.grpcLn) }()
	lim := cfg.Limits
	svc := kmip.NewService(kmip.Config{
		Replicator: h, Store: h, Sealer: h.barrier, Logger: logger,
		ConsistentReads: cfg.ConsistentReads, Available: h.available,
		LocateMaxItems: lim.LocateMaxItems, MaxKeyPairGenerations: lim.MaxKeyPairGenerations,
		RateLimit: lim.RateLimit, RateBurst: lim.RateBurst, Policy: h,
		Audit: h.audit,
	})
	scfg := lim.serverConfig()
	scfg.TLS, scfg.MaxMessageSize, scfg.Logger = h.guard.TLS(cfg.KMIPTLS), cfg.MaxMessageSize, logger
	scfg.Admit = func(c net.Conn, cs tls.ConnectionState) (func(), bool) { return h.guard.Admit(c, cs, "kmip") }
	h.kmip = kmip.NewServer(scfg, svc)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	h.stopWatch = stopWatch
	go h.watchRevocations(watchCtx)
	go func() { h.served <- h.kmip.Serve(h.kmipLn) }()

	if h.barrier.Sealed() && !joining {
		logger.Warn("node is sealed: it serves no KMIP and takes no part in Raft until `kmsctl operator unseal`",
			"method", h.method(), "admin", h.grpcLn.Addr().String())
		return h, nil
	}
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	h.mu.Lock()
	err = h.bringUp(h.bringUpContext(readyCtx))
	h.mu.Unlock()
	if err != nil {
		// shutdown takes h.mu itself.
		h.shutdown()
		return nil, err
	}
	return h, nil
}

// unsealAtStart unseals from the seal record when no operator is needed. A
// node without a record creates one for a new cluster when it bootstraps
// (or migrates a legacy node.key); otherwise it will get the root key by
// joining (joining is true).
func (h *host) unsealAtStart() (joining bool, err error) {
	dir := h.cfg.DataDir
	rec, err := seal.ReadRecord(dir)
	switch {
	case errors.Is(err, seal.ErrNoRecord):
		if !h.cfg.Bootstrap && !fileExists(filepath.Join(dir, legacyKeyFile)) {
			return true, nil
		}
		if h.cfg.Seal.Method == seal.MethodShamir {
			return false, errors.New("a shamir seal is created with `kmsd init --seal shamir`, which shows the shares once; run it on this data folder first")
		}
		if _, err := h.barrier.Init(dir, h.cfg.Seal); err != nil {
			return false, err
		}
		h.logger.Info("new cluster: root key created", "method", h.method(), "cluster_id", h.barrier.ClusterID())
		return false, nil
	case err != nil:
		return false, err
	}
	switch rec.Method {
	case seal.MethodFile:
		err = h.barrier.UnsealFile(dir)
	case seal.MethodPassphrase:
		if len(h.cfg.UnsealPassphrase) > 0 {
			err = h.barrier.UnsealPassphrase(dir, h.cfg.UnsealPassphrase)
		}
	case seal.MethodPKCS11:
		if h.cfg.PKCS11PIN != "" {
			err = h.barrier.UnsealPKCS11(dir, h.cfg.PKCS11PIN)
		}
	}
	clear(h.cfg.UnsealPassphrase)
	if err != nil {
		return false, fmt.Errorf("unseal: %w", err)
	}
	return false, nil
}

// bringUp starts Raft on a fresh state machine (restored by Raft from its
// snapshot and log), joins a cluster when configured, waits until caught
// up, gives a new cluster its first data key, and then serves KMIP. h.mu is
// held.
func (h *host) bringUp(ctx context.Context) error {
	cfg := h.cfg
	store := fsm.New(fsm.Config{Logger: h.logger})
	h.store.Store(store)
	rn, err := cluster.New(cluster.Config{
		NodeID: cfg.NodeID, DataDir: cfg.DataDir, Version: version,
		RaftAddr: cfg.RaftAddr, RaftAdvertise: cfg.RaftAdvertise, AdminAddr: h.adminAdvertise(), KMIPAddr: h.kmipAddr,
		GossipAddr: cfg.GossipAddr, GossipKey: cfg.GossipKey,
		Bootstrap: cfg.Bootstrap, JoinToken: cfg.JoinToken,
		Barrier: h.barrier, NewJoinKeys: newJoinKeys(h.barrier, cfg.DataDir, cfg.Seal), Keyring: store,
		ServerTLS: cfg.NodeServerTLS, ClientTLS: cfg.NodeClientTLS, NodeCAs: cfg.NodeCAs, Guard: h.guard,
		SnapshotThreshold: cfg.SnapshotThreshold, SnapshotInterval: cfg.SnapshotInterval, TrailingLogs: cfg.TrailingLogs,
		HandshakeTimeout: cfg.Limits.HandshakeTimeout,
		Autopilot:        cfg.Autopilot,
		Logger:           h.logger,
	}, store)
	if err != nil {
		h.store.Store(nil)
		return err
	}
	h.node.Store(rn)
	fail := func(err error) error {
		h.stopNode()
		return err
	}
	if err := rn.JoinAny(ctx, cfg.Join); err != nil {
		return fail(fmt.Errorf("joining the cluster: %w", err))
	}
	if err := rn.WaitReady(ctx); err != nil {
		return fail(fmt.Errorf("waiting for the log to be applied: %w", err))
	}
	h.logger.Info("state machine ready", "objects", store.Count(), "applied_index", store.AppliedIndex())
	if err := ensureKeyring(ctx, rn, h.barrier, store, cfg.DataDir, h.logger); err != nil {
		return fail(err)
	}
	if h.barrier.Sealed() {
		h.logger.Warn("this node has no keys yet: it serves no KMIP until it joins a cluster (kmsctl cluster join --token ...)",
			"admin", h.grpcLn.Addr().String())
		return nil
	}
	h.serving.Store(true)
	h.kickRevocations()
	h.logger.Info("serving", "kmip", h.kmipAddr, "admin", h.adminAdvertise(), "raft", rn.RaftAddr())
	return nil
}

// stopNode stops serving KMIP and shuts Raft down; h.mu is held.
func (h *host) stopNode() {
	h.serving.Store(false)
	if rn := h.node.Swap(nil); rn != nil {
		if err := rn.Shutdown(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
			h.logger.Warn("raft shutdown", "err", err)
		}
	}
	h.store.Store(nil)
}

// errStarting answers KMIP while an unsealed node catches up.
var errStarting = errors.New("kmsd: starting")

// available gates KMIP: only a node that is unsealed and caught up serves.
func (h *host) available() error {
	switch {
	case h.serving.Load():
		return nil
	case h.barrier.Sealed():
		return kmip.ErrSealed
	}
	return errStarting
}

// method is how this node's root key is protected, from its seal record.
func (h *host) method() string {
	rec, err := seal.ReadRecord(h.cfg.DataDir)
	if err != nil {
		return ""
	}
	return string(rec.Method)
}

// wait blocks until ctx ends or a listener fails, then shuts down.
func (h *host) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-h.served:
	}
	h.shutdown()
	return err
}

// shutdownDrain is how long requests in flight at shutdown get to finish,
// on the KMIP port and then on the gRPC port. A request still waiting then
// (for a leader, or for an entry that this node, removed from the cluster
// without knowing it yet, will never apply) is cancelled and answered
// "temporarily unavailable": the client does not learn whether it ran and
// retries on another node, as after any lost answer.
const shutdownDrain = 3 * time.Second

func (h *host) shutdown() {
	h.logger.Info("shutting down")
	_ = h.kmipLn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDrain)
	defer cancel()
	h.kmip.Shutdown(ctx)
	h.cancelBringUp()
	h.mu.Lock()
	h.stopNode()
	h.mu.Unlock()
	h.barrier.Seal()
	stopped := make(chan struct{})
	go func() { h.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(shutdownDrain):
		h.grpc.Stop()
	}
	_ = h.grpcLn.Close()
	if err := h.audit.Close(); err != nil {
		h.logger.Warn("closing the audit log", "err", err)
	}
	h.stopWatch()
}

// SealState implements admin.SealControl.
func (h *host) SealState() admin.SealState {
	st := admin.SealState{Sealed: h.barrier.Sealed(), ClusterID: h.barrier.ClusterID()}
	if rec, err := seal.ReadRecord(h.cfg.DataDir); err == nil {
		st.Method, st.ClusterID = string(rec.Method), rec.ClusterID
		if rec.Shamir != nil {
			st.Threshold, st.Shares = rec.Shamir.Threshold, rec.Shamir.Shares
		}
	}
	st.Progress = int(h.shares.Load())
	return st
}

// Unseal implements admin.SealControl: one passphrase, share or PIN. Once
// the barrier holds the root key, Raft comes up in the background (it may
// have to wait for a quorum of unsealed nodes).
func (h *host) Unseal(_ context.Context, in admin.UnsealInput) (int, error) {
	if !h.barrier.Sealed() {
		return 0, seal.ErrAlreadyUnsealed
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.barrier.Sealed() {
		return 0, seal.ErrAlreadyUnsealed
	}
	rec, err := seal.ReadRecord(h.cfg.DataDir)
	if err != nil {
		return 0, err
	}
	remaining := 0
	switch {
	case in.Reset:
		h.barrier.ResetShares()
		h.shares.Store(0)
		if rec.Shamir != nil {
			remaining = rec.Shamir.Threshold
		}
		return remaining, nil
	case rec.Method == seal.MethodPassphrase && len(in.Passphrase) > 0:
		err = h.barrier.UnsealPassphrase(h.cfg.DataDir, in.Passphrase)
	case rec.Method == seal.MethodShamir && in.Share != "":
		remaining, err = h.barrier.SubmitShare(rec, in.Share)
		if err == nil {
			h.shares.Store(int32(rec.Shamir.Threshold - remaining))
		} else if errors.Is(err, seal.ErrWrongShares) {
			h.shares.Store(0)
		}
	case rec.Method == seal.MethodPKCS11 && in.PIN != "":
		err = h.barrier.UnsealPKCS11(h.cfg.DataDir, in.PIN)
	case rec.Method == seal.MethodFile:
		err = h.barrier.UnsealFile(h.cfg.DataDir)
	default:
		return 0, fmt.Errorf("%w: this node's root key is protected by %s", seal.ErrWrongMethod, rec.Method)
	}
	if err != nil || h.barrier.Sealed() {
		return remaining, err
	}
	h.shares.Store(0)
	h.logger.Info("unsealed", "method", rec.Method)
	ctx := h.bringUpContext(context.Background())
	go func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.barrier.Sealed() || h.node.Load() != nil {
			return
		}
		if err := h.bringUp(ctx); err != nil {
			h.logger.Error("the unsealed node could not start; it stays sealed", "err", err)
			h.barrier.Seal()
		}
	}()
	return 0, nil
}

// Seal implements admin.SealControl: stop serving KMIP, leave Raft, and
// forget every key.
func (h *host) Seal(context.Context) error {
	h.cancelBringUp()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopNode()
	h.barrier.Seal()
	h.shares.Store(0)
	h.logger.Warn("sealed: keys forgotten, KMIP refused, Raft stopped")
	return nil
}

// adminAdvertise is the gRPC address peers dial: --admin-advertise, or the
// address the listener got.
func (h *host) adminAdvertise() string {
	if h.cfg.AdminAdvertise != "" {
		return h.cfg.AdminAdvertise
	}
	return h.grpcLn.Addr().String()
}
