package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Errors returned by Apply and WaitReady; raft's own errors never leave this
// package.
var (
	ErrNotLeader = errors.New("cluster: not the leader")
	ErrTimeout   = errors.New("cluster: timed out waiting for the log")
	ErrShutdown  = errors.New("cluster: node is shutting down")
	ErrTooLarge  = errors.New("cluster: command too large")
)

// StateMachine is what a Node needs from the replicated state machine.
type StateMachine interface {
	// ApplyLog applies one committed entry; it must be deterministic.
	ApplyLog(index uint64, data []byte) any
	// SnapshotState captures a point-in-time view cheaply.
	SnapshotState() interface{ Persist(io.Writer) error }
	// Restore replaces the state with a persisted snapshot.
	Restore(r io.Reader) error
}

// Config configures a Node. Zero values get defaults.
type Config struct {
	NodeID    string // defaults to the raft address
	DataDir   string // required: raft state lives in DataDir/raft
	RaftAddr  string // host:port to bind for raft traffic; required
	Bootstrap bool   // form a one-voter cluster when there is no state yet

	MaxCommandSize int           // default 4 MiB
	ApplyTimeout   time.Duration // bound on enqueue + commit; default 10s
	SnapshotRetain int           // default 2
	// SnapshotThreshold and SnapshotInterval override raft's defaults (8192
	// entries, 120s) when set.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.NodeID == "" {
		c.NodeID = c.RaftAddr
	}
	if c.MaxCommandSize == 0 {
		c.MaxCommandSize = 4 << 20
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node is one member of the Raft cluster.
type Node struct {
	cfg       Config
	logger    *slog.Logger
	raft      *raft.Raft
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
}

// New opens (or creates) the node's raft state and starts raft.
func New(cfg Config, sm StateMachine) (*Node, error) {
	cfg.setDefaults()
	if cfg.DataDir == "" || cfg.RaftAddr == "" {
		return nil, errors.New("cluster: DataDir and RaftAddr are required")
	}
	logger := cfg.Logger.With("component", "cluster")
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	hlog := newHclogAdapter(cfg.Logger.With("component", "raft"))

	store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("cluster: open log store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, cfg.SnapshotRetain, hlog)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: open snapshot store: %w", err)
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: raft address: %w", err)
	}
	transport, err := raft.NewTCPTransportWithLogger(cfg.RaftAddr, addr, 3, 10*time.Second, hlog)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: raft transport: %w", err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.BatchApplyCh = true
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(store, store, snaps)
		if err != nil {
			transport.Close()
			store.Close()
			return nil, fmt.Errorf("cluster: inspect state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: transport.LocalAddr()}}}
			if err := raft.BootstrapCluster(rc, store, store, snaps, transport, conf); err != nil {
				transport.Close()
				store.Close()
				return nil, fmt.Errorf("cluster: bootstrap: %w", err)
			}
			logger.Info("bootstrapped a new single-voter cluster", "id", cfg.NodeID)
		}
	}

	r, err := raft.NewRaft(rc, &raftFSM{sm: sm}, store, store, snaps, transport)
	if err != nil {
		transport.Close()
		store.Close()
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	return &Node{cfg: cfg, logger: logger, raft: r, store: store, transport: transport}, nil
}

// WaitReady blocks until this node is the leader and has applied every entry
// committed before it, or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n.raft.State() != raft.Leader {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: no leader elected", ErrTimeout)
		case <-tick.C:
		}
	}
	timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
	return mapRaftErr(n.raft.Barrier(timeout).Error())
}

// Apply proposes one command and returns the state machine's answer once the
// entry is committed and applied on this node.
func (n *Node) Apply(ctx context.Context, cmd []byte) (any, error) {
	if len(cmd) > n.cfg.MaxCommandSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(cmd), n.cfg.MaxCommandSize)
	}
	if n.raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
	f := n.raft.Apply(cmd, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, mapRaftErr(err)
		}
		return f.Response(), nil
	case <-ctx.Done():
		// The entry may still commit; the caller only stops waiting.
		return nil, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

// deadline is the earlier of ctx's deadline and now+max.
func deadline(ctx context.Context, max time.Duration) time.Time {
	d := time.Now().Add(max)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// mapRaftErr is the one place raft errors become our sentinels.
func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	default:
		return fmt.Errorf("cluster: raft: %w", err)
	}
}

// Snapshot asks raft to take a snapshot now.
func (n *Node) Snapshot() error {
	return mapRaftErr(n.raft.Snapshot().Error())
}

// Stats reports raft's view of this node.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// IsLeader reports whether this node currently leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Shutdown stops raft and closes the stores.
func (n *Node) Shutdown() error {
	err := n.raft.Shutdown().Error()
	if cerr := n.transport.Close(); err == nil {
		err = cerr
	}
	if cerr := n.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// raftFSM adapts a StateMachine to raft.FSM.
type raftFSM struct{ sm StateMachine }

func (f *raftFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	return f.sm.ApplyLog(l.Index, l.Data)
}

func (f *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &raftSnapshot{p: f.sm.SnapshotState()}, nil
}

func (f *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.sm.Restore(rc)
}

type raftSnapshot struct {
	p interface{ Persist(io.Writer) error }
}

func (s *raftSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.p.Persist(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *raftSnapshot) Release() {}

// newHclogAdapter routes raft's hclog output to slog.
func newHclogAdapter(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Info,
		Output:      slogWriter{l},
		DisableTime: true,
	})
}

// slogWriter turns one hclog line ("[INFO]  raft: message: k=v") into a slog
// record at the matching level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, lv := range hclogLevels {
		if strings.HasPrefix(msg, prefix) {
			level = lv
			msg = strings.TrimSpace(strings.TrimPrefix(msg, prefix))
			break
		}
	}
	msg = strings.TrimPrefix(msg, "raft: ")
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}

var hclogLevels = map[string]slog.Level{
	"[TRACE]": slog.LevelDebug,
	"[DEBUG]": slog.LevelDebug,
	"[INFO]":  slog.LevelInfo,
	"[WARN]":  slog.LevelWarn,
	"[ERROR]": slog.LevelError,
}
