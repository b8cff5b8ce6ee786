package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Errors returned by Apply and WaitReady; raft's own errors never leave this
// package.
var (
	ErrNotLeader = errors.New("cluster: not the leader")
	ErrTimeout   = errors.New("cluster: timed out waiting for the log")
	ErrShutdown  = errors.New("cluster: node is shutting down")
	ErrTooLarge  = errors.New("cluster: command too large")
)

// StateSnapshot is a point-in-time view of a StateMachine. An alias, so
// that a state machine implements StateMachine without importing cluster.
type StateSnapshot = interface {
	// Persist writes the view; it runs while commands are being applied.
	Persist(io.Writer) error
	// Index is the index of the last command the view holds.
	Index() uint64
	// KeyVersions lists the data key versions of the view's keyring,
	// oldest first, like ClusterState.
	KeyVersions() []uint32
}

// StateMachine is what a Node needs from the replicated state machine.
type StateMachine interface {
	// ApplyLog applies one committed entry; it must be deterministic.
	ApplyLog(index uint64, data []byte) any
	// SnapshotState captures a point-in-time view cheaply, without
	// holding up ApplyLog for long.
	SnapshotState() StateSnapshot
	// Restore replaces the state with a persisted snapshot.
	Restore(r io.Reader) error
	// EncodeResult and DecodeResult carry an ApplyLog result from the
	// leader to the node that forwarded the command.
	EncodeResult(v any) ([]byte, error)
	DecodeResult(b []byte) (any, error)
	// Count is the number of objects, and Digest a hash of the whole
	// state, for status reports.
	Count() int
	Digest() ([32]byte, error)
	// AppliedIndex is the index of the last command applied (or restored
	// from a snapshot).
	AppliedIndex() uint64
	// ValidateSnapshot reads a whole snapshot and reports whether Restore
	// would accept it, without touching the state.
	ValidateSnapshot(r io.Reader) error
	// ValidateCommand reports whether ApplyLog can decode an entry; the
	// leader refuses forwarded entries that fail it.
	ValidateCommand(data []byte) error

	// The cluster's own state: join tokens, stored hashed. env carries the
	// request id, time and actor of the command.
	EncodeCreateJoinToken(env *kmsdpb.Command, hash []byte, expires time.Time) ([]byte, error)
	EncodeConsumeJoinToken(env *kmsdpb.Command, hash []byte, nodeID string) ([]byte, error)
	// Outcome is the domain error carried by an ApplyLog result, nil on
	// success; its text is fixed and safe to show.
	Outcome(res any) error
	// ClusterState names the cluster the state belongs to and the data key
	// versions of its keyring, oldest first; empty for a state machine
	// without a keyring.
	ClusterState() (clusterID string, keyVersions []uint32)
}

// Config configures a Node. Zero values get defaults.
type Config struct {
	NodeID   string // required; the id the node certificate names
	DataDir  string // required: raft state lives in DataDir/raft
	RaftAddr string // host:port to bind Raft on, and to advertise unless RaftAdvertise is set; required
	// RaftAdvertise is the Raft address peers dial, when it is not
	// RaftAddr (a NAT, a proxy, a Kubernetes Service).
	RaftAdvertise string
	AdminAddr     string // advertised gRPC address (admin API and node service)
	KMIPAddr      string // advertised KMIP address, for members listings
	GossipAddr    string // host:port for memberlist; empty disables gossip
	GossipKey     []byte // 32-byte key encrypting and authenticating gossip
	Version       string
	Bootstrap     bool     // form a one-voter cluster when there is no state yet
	Join          []string // admin addresses of members to join on start
	// Barrier is this node's seal barrier: it wraps the cluster's keys for
	// a node that joins and keys snapshot MACs. Required.
	Barrier *seal.Barrier
	// NewJoinKeys makes the one-time key pair of a join; required to join.
	NewJoinKeys func() (JoinKeys, error)
	// Keyring is the state machine's keyring, for rotate, rewrap, retire
	// and for keeping Barrier on its root key (keyring.go); nil: the node
	// has none.
	Keyring KeyringState

	// JoinToken is the one-time token (kmsctl cluster token create) that
	// lets this node join the cluster named by Join.
	JoinToken string

	// ServerTLS must require and verify client certificates from the node
	// CA only; ClientTLS carries this node's certificate and trusts the
	// node CA for dialing peers. A peer's certificate must name its node id
	// (NodeIDFromCert) and that id must be a member.
	ServerTLS *tls.Config
	ClientTLS *tls.Config
	// NodeCAs are the trust anchors of the node domain. On the gRPC port,
	// which also serves operators, a caller is a node only if its verified
	// chain ends at one of them.
	NodeCAs []*x509.Certificate
	// Guard checks peers against the certificate deny list at each
	// handshake (after ServerTLS's and ClientTLS's own checks) and tracks
	// open Raft and node-service connections, so that a revoked peer's are
	// closed; nil: no deny list.
	Guard *denylist.Guard

	MaxCommandSize int // default 4 MiB
	// HandshakeTimeout bounds the TLS handshake of a connection to the
	// Raft port: one that has not completed it by then is closed. Default
	// 10s.
	HandshakeTimeout time.Duration
	ApplyTimeout     time.Duration // bound on enqueue + commit; default 10s
	SnapshotRetain   int           // default 2
	// SnapshotThreshold and SnapshotInterval override raft's defaults (8192
	// entries, 120s) when set.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many log entries a snapshot leaves behind, for
	// followers that lag to catch up from the log instead of a snapshot
	// install; default raft's 10240.
	TrailingLogs uint64
	// HeartbeatTimeout and ElectionTimeout override raft's defaults (1s).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration

	Autopilot AutopilotConfig

	Logger *slog.Logger
}

// AutopilotConfig tunes server promotion and dead-server cleanup.
type AutopilotConfig struct {
	CleanupDeadServers      bool          // remove failed servers automatically
	MinQuorum               uint          // never shrink below this many voters; default 3
	LastContactThreshold    time.Duration // default 2s
	MaxTrailingLogs         uint64        // default 250
	ServerStabilizationTime time.Duration // before a non-voter is promoted; default 5s
}

func (c *Config) setDefaults() {
	if c.MaxCommandSize == 0 {
		c.MaxCommandSize = 4 << 20
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 2
	}
	if c.Autopilot.MinQuorum == 0 {
		c.Autopilot.MinQuorum = 3
	}
	if c.Autopilot.LastContactThreshold == 0 {
		c.Autopilot.LastContactThreshold = 2 * time.Second
	}
	if c.Autopilot.MaxTrailingLogs == 0 {
		c.Autopilot.MaxTrailingLogs = 250
	}
	if c.Autopilot.ServerStabilizationTime == 0 {
		c.Autopilot.ServerStabilizationTime = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Node is one member of the Raft cluster.
type Node struct {
	cfg       Config
	logger    *slog.Logger
	sm        StateMachine
	raft      *raft.Raft
	store     *raftboltdb.BoltStore
	logs      raft.LogStore // store behind a cache of the newest entries
	snaps     *raft.FileSnapshotStore
	transport *raft.NetworkTransport
	peers     *peerBook
	gossip    *gossip
	pilot     *autopilot.Autopilot
	rpc       *rpcClients
	root      *rootFollower // nil without Config.Keyring
	appliedW  *appliedWatch

	// raftp is raft for the transport's peer checks, which start before
	// New has assigned n.raft.
	raftp atomic.Pointer[raft.Raft]
	// expected are the servers a join response named, accepted as Raft
	// peers until the configuration arrives.
	expectMu sync.RWMutex
	expected map[string]bool

	// followerReads batches the read indexes a follower asks the leader for.
	followerReads readBatch

	// readyTerm is the term in which this node, as leader, has committed an
	// entry of its own: only then is its commit index safe for reads.
	readyTerm atomic.Uint64

	stop     chan struct{}
	wg       sync.WaitGroup
	shutOnce sync.Once
}

// New opens (or creates) the node's raft state, starts raft, gossip and the
// leadership watcher.
func New(cfg Config, sm StateMachine) (*Node, error) {
	cfg.setDefaults()
	if cfg.DataDir == "" || cfg.RaftAddr == "" || cfg.Barrier == nil {
		return nil, errors.New("cluster: DataDir, RaftAddr and Barrier are required")
	}
	if err := ValidNodeID(cfg.NodeID); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "cluster", "node", cfg.NodeID)
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	hlog := newHclogAdapter(cfg.Logger.With("component", "raft"))

	n := &Node{cfg: cfg, logger: logger, sm: sm, stop: make(chan struct{}), expected: map[string]bool{}, appliedW: newAppliedWatch()}
	n.peers = newPeerBook(filepath.Join(cfg.DataDir, "peers.json"))
	var err error
	cleanup := func() {
		if n.transport != nil {
			n.transport.Close()
		}
		if n.store != nil {
			n.store.Close()
		}
	}
	if err := removeTempSnapshots(dir, logger); err != nil {
		return nil, err
	}
	if n.store, err = openLogStore(filepath.Join(dir, "raft.db"), hasSnapshots(dir)); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, cfg.SnapshotRetain, hlog)
	n.snaps = snaps
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("cluster: open snapshot store: %w", err)
	}
	stream, err := newTLSStreamLayer(cfg.RaftAddr, cfg.ServerTLS, cfg.ClientTLS, cfg.NodeCAs, cfg.HandshakeTimeout, n.isMember, n.memberAt, cfg.Guard)
	if err != nil {
		cleanup()
		return nil, err
	}
	if cfg.RaftAdvertise != "" {
		if err := stream.advertiseAs(cfg.RaftAdvertise); err != nil {
			stream.Close()
			cleanup()
			return nil, err
		}
	}
	n.transport = raft.NewNetworkTransportWithConfig(transportConfig(stream, hlog))

	rc := raftConfig(cfg, hlog)
	if cfg.Bootstrap {
		if err := bootstrap(rc, n.store, snaps, n.transport); err != nil {
			cleanup()
			return nil, err
		}
	}
	n.root = newRootFollower(cfg, logger)
	// Followers read each entry back to apply it, and the leader to send
	// it; the cache answers both for recent entries.
	if n.logs, err = raft.NewLogCache(logCacheSize, n.store); err != nil {
		cleanup()
		return nil, fmt.Errorf("cluster: log cache: %w", err)
	}
	if n.raft, err = raft.NewRaft(rc, &raftFSM{sm: sm, root: n.root, applied: n.appliedW}, n.logs, n.store, snaps, n.transport); err != nil {
		cleanup()
		return nil, explainSnapshots(err, snaps, dir)
	}
	n.raftp.Store(n.raft)
	n.rpc = newRPCClients(cfg.ClientTLS, cfg.NodeCAs, n.admitsServer, cfg.Guard, sourceAddr(cfg.RaftAddr))
	n.peers.put(peerInfo{ID: cfg.NodeID, RaftAddr: string(n.transport.LocalAddr()), AdminAddr: cfg.AdminAddr, KMIPAddr: cfg.KMIPAddr, GossipAddr: cfg.GossipAddr, Version: cfg.Version})
	n.pilot = autopilot.New(n.raft, &pilotDelegate{n: n}, autopilot.WithLogger(hlog),
		autopilot.WithReconcileInterval(2*time.Second), autopilot.WithUpdateInterval(time.Second))
	if cfg.GossipAddr != "" {
		if n.gossip, err = startGossip(n); err != nil {
			_ = n.raft.Shutdown().Error()
			cleanup()
			return nil, err
		}
	}
	n.wg.Add(2)
	go n.watchLeadership()
	go n.tuneSnapshots(reloadable(rc))
	n.root.start(n.stop, &n.wg)
	return n, nil
}

// logCacheSize is the number of newest log entries kept in memory.
const logCacheSize = 1024

// transportConfig is the Raft transport's configuration over stream.
func transportConfig(stream raft.StreamLayer, hlog hclog.Logger) *raft.NetworkTransportConfig {
	return &raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog,
		// No pipelined replication: raft's pipeline can deadlock when a
		// follower's answer fails while the next request is being sent
		// (the decoder returns, the sender waits for it forever), and the
		// follower, still getting heartbeats, never calls an election and
		// never gets another entry (hashicorp/raft issue 612); a node
		// whose replication is stuck that way also never finishes raft's
		// shutdown. Each append then waits for its answer; batches keep
		// that cheap.
		MaxRPCsInFlight: 1,
	}
}

func raftConfig(cfg Config, hlog hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.BatchApplyCh = true
	// Followers learn that an entry committed from the next AppendEntries;
	// sending it soon after each apply keeps a write through a follower,
	// which waits for its own state machine, close to a write at the leader.
	rc.CommitTimeout = 5 * time.Millisecond
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
		rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, cfg.HeartbeatTimeout)
	}
	if cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.ElectionTimeout
	}
	return rc
}

func bootstrap(rc *raft.Config, store *raftboltdb.BoltStore, snaps raft.SnapshotStore, tr *raft.NetworkTransport) error {
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return fmt.Errorf("cluster: inspect state: %w", err)
	}
	if has {
		return nil
	}
	conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: tr.LocalAddr()}}}
	if err := raft.BootstrapCluster(rc, store, store, snaps, tr, conf); err != nil {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	return nil
}

// ID returns this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// RaftAddr returns the address Raft listens on.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

// IsLeader reports whether this node currently leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Stats reports raft's view of this node.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// WaitReady blocks until the cluster has a leader and this node has applied
// every entry committed before the call, or ctx ends. A node that has not
// joined a cluster yet (no configuration) is ready at once.
func (n *Node) WaitReady(ctx context.Context) error {
	if !n.hasConfiguration() {
		return nil
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := n.ReadBarrier(ctx); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", ErrTimeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: no leader elected", ErrTimeout)
		case <-tick.C:
		}
	}
}

func (n *Node) hasConfiguration() bool {
	f := n.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// Snapshot asks raft to take a snapshot now.
func (n *Node) TakeSnapshot() error {
	return mapRaftErr(n.raft.Snapshot().Error())
}

// Shutdown leaves gracefully: a leader first hands leadership to another
// voter so the cluster does not wait for an election timeout; then gossip,
// raft and the stores stop.
func (n *Node) Shutdown() error {
	var err error
	n.shutOnce.Do(func() {
		if n.IsLeader() && n.voters() > 1 {
			if terr := n.raft.LeadershipTransfer().Error(); terr != nil {
				n.logger.Warn("leadership transfer before shutdown failed", "err", terr)
			}
		}
		close(n.stop)
		n.wg.Wait()
		if n.gossip != nil {
			n.gossip.leave()
		}
		n.snapshotBeforeStop()
		err = n.raft.Shutdown().Error()
		n.rpc.close()
		if cerr := n.transport.Close(); err == nil {
			err = cerr
		}
		if cerr := n.store.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

func (n *Node) voters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	v := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			v++
		}
	}
	return v
}

// watchLeadership runs autopilot while this node leads.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	running := false
	stopPilot := func() {
		if running {
			<-n.pilot.Stop()
			running = false
		}
	}
	defer stopPilot()
	ch := n.raft.LeaderCh()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-ch:
			if leader {
				n.logger.Info("leadership acquired")
				n.pilot.Start(context.Background())
				running = true
				n.wg.Add(1)
				go n.confirmTerm()
			} else {
				n.logger.Info("leadership lost")
				stopPilot()
			}
		}
	}
}

// confirmTerm commits an entry in the new term (a barrier), after which the
// leader's commit index covers every write acknowledged by earlier leaders.
func (n *Node) confirmTerm() {
	defer n.wg.Done()
	term := n.raft.CurrentTerm()
	for n.IsLeader() && n.raft.CurrentTerm() == term {
		if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err == nil {
			n.readyTerm.Store(term)
			return
		}
		select {
		case <-n.stop:
			return
		case <-time.After(retryPause):
		}
	}
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

// deadline is the earlier of ctx's deadline and now+max.
func deadline(ctx context.Context, max time.Duration) time.Time {
	d := time.Now().Add(max)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// raftFSM adapts a StateMachine to raft.FSM. With a keyring, root holds
// the barrier on the keyring's root key as entries and snapshots apply.
type raftFSM struct {
	sm      StateMachine
	root    *rootFollower
	applied *appliedWatch // notified after entries were applied; may be nil
}

func (f *raftFSM) Apply(l *raft.Log) any {
	defer f.notify()
	return f.apply(l)
}

func (f *raftFSM) apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if f.root != nil {
		return f.root.apply(f.sm, l)
	}
	return f.sm.ApplyLog(l.Index, l.Data)
}

func (f *raftFSM) notify() {
	if f.applied != nil {
		f.applied.notify()
	}
}

// BatchApplier is a StateMachine that can apply a run of consecutive
// entries at once, with the results ApplyLog would give each in turn.
type BatchApplier interface {
	ApplyLogs(indexes []uint64, data [][]byte) []any
}

// ApplyBatch hands raft's committed entries to the state machine in runs:
// a root key rotation, which the barrier must follow as it applies, and
// entries of other types end a run.
func (f *raftFSM) ApplyBatch(logs []*raft.Log) []any {
	defer f.notify()
	results := make([]any, len(logs))
	ba, batching := f.sm.(BatchApplier)
	var indexes []uint64
	var data [][]byte
	runStart := 0
	flush := func(end int) {
		if len(data) > 0 {
			copy(results[runStart:end], ba.ApplyLogs(indexes, data))
		}
		indexes, data = indexes[:0], data[:0]
		runStart = end + 1
	}
	for i, l := range logs {
		alone := !batching || l.Type != raft.LogCommand || f.root != nil && f.root.ks.IsRootRotation(l.Data)
		if !alone {
			indexes, data = append(indexes, l.Index), append(data, l.Data)
			continue
		}
		flush(i)
		results[i] = f.apply(l)
	}
	flush(len(logs))
	return results
}

func (f *raftFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &raftSnapshot{p: f.sm.SnapshotState()}, nil
}

func (f *raftFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.sm.Restore(rc); err != nil {
		return err
	}
	f.notify()
	if f.root != nil {
		f.root.restored()
	}
	return nil
}

type raftSnapshot struct {
	p StateSnapshot
}

func (s *raftSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.p.Persist(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *raftSnapshot) Release() {}

var _ raft.BatchingFSM = (*raftFSM)(nil)
