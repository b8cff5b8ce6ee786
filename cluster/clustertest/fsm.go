package clustertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// FSMCluster is an in-process cluster whose nodes run the real state
// machine (*fsm.FSM) with its keyring, each with a barrier that reads that
// keyring and is given to the node as its Keyring: what keyring operations
// need. The first node creates the root key (file seal) and keyring
// version 1; the others join it.
type FSMCluster struct {
	t      testing.TB
	PKI    *PKI
	Nodes  []*FSMNode
	gossip []byte
	logs   *mutedLog
}

// FSMNode is one member of an FSMCluster.
type FSMNode struct {
	ID      string
	Dir     string
	Node    *cluster.Node
	FSM     *fsm.FSM
	Barrier *seal.Barrier
	Cfg     cluster.Config

	grpc *grpc.Server
	ln   net.Listener
	down bool
}

// NewFSM returns an empty cluster; add nodes with Start.
func NewFSM(t testing.TB) *FSMCluster {
	c := &FSMCluster{t: t, PKI: NewPKI(t), gossip: random(t, 32), logs: &mutedLog{t: t}}
	// Registered first, so it runs last: memberlist's probes may still
	// log after Shutdown, and t.Log after the test ends panics.
	t.Cleanup(c.logs.mute)
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Stop()
		}
	})
	return c
}

// Start adds a node: the first bootstraps and creates keyring version 1,
// later ones join the first. configure runs on the node's configuration
// before it starts.
func (c *FSMCluster) Start(configure ...func(*cluster.Config)) *FSMNode {
	c.t.Helper()
	i := len(c.Nodes)
	n := &FSMNode{ID: fmt.Sprintf("n%d", i+1), Dir: c.t.TempDir()}
	n.FSM = fsm.New(fsm.Config{})
	n.Barrier = seal.NewBarrier(n.FSM)
	if i == 0 {
		if _, err := n.Barrier.Init(n.Dir, seal.InitOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	cert := c.PKI.NodeCert(n.ID)
	n.Cfg = cluster.Config{
		NodeID: n.ID, DataDir: n.Dir,
		RaftAddr: freeAddr(c.t), AdminAddr: freeAddr(c.t), GossipAddr: freeAddr(c.t), GossipKey: c.gossip,
		Bootstrap: i == 0, Barrier: n.Barrier, NewJoinKeys: joinKeys(n.Barrier, n.Dir), Keyring: n.FSM,
		ServerTLS: c.PKI.ServerTLS(cert), ClientTLS: c.PKI.ClientTLS(cert), NodeCAs: c.PKI.NodeCAs(),
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		Autopilot: cluster.AutopilotConfig{ServerStabilizationTime: 200 * time.Millisecond, MinQuorum: 3},
		Logger:    slog.New(slog.NewTextHandler(c.logs.writer(n.ID), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if i > 0 {
		n.Cfg.Join = []string{c.Nodes[0].Cfg.AdminAddr}
		n.Cfg.JoinToken = c.Token()
	}
	for _, f := range configure {
		f(&n.Cfg)
	}
	c.Nodes = append(c.Nodes, n)
	for attempt := 0; ; attempt++ {
		err := n.start(c.t)
		if err == nil {
			break
		}
		if attempt == 4 || !strings.Contains(err.Error(), "address already in use") {
			c.t.Fatalf("%s: %v", n.ID, err)
		}
		n.Cfg.RaftAddr, n.Cfg.AdminAddr, n.Cfg.GossipAddr = freeAddr(c.t), freeAddr(c.t), freeAddr(c.t)
	}
	if i == 0 {
		c.firstDataKey(n)
	}
	return n
}

// firstDataKey gives the new cluster keyring version 1, as kmsd does.
func (c *FSMCluster) firstDataKey(n *FSMNode) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Node.WaitReady(ctx); err != nil {
		c.t.Fatal(err)
	}
	sealed, err := n.Barrier.NewDataKey(1)
	if err != nil {
		c.t.Fatal(err)
	}
	entry, err := n.FSM.EncodeAddDataKey(Envelope("clustertest"), n.Barrier.ClusterID(), 1, sealed)
	if err != nil {
		c.t.Fatal(err)
	}
	res, err := n.Node.Apply(ctx, entry)
	if err == nil {
		err = n.FSM.Outcome(res)
	}
	if err != nil {
		c.t.Fatalf("keyring version 1: %v", err)
	}
}

// Envelope is the envelope of a new command by actor, with a random
// request id.
func Envelope(actor string) *kmsdpb.Command {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &kmsdpb.Command{RequestId: id, TimeUnixNano: time.Now().UnixNano(), Actor: actor}
}

func (n *FSMNode) start(t testing.TB) error {
	t.Helper()
	var err error
	if n.ln, err = net.Listen("tcp", n.Cfg.AdminAddr); err != nil {
		return err
	}
	if n.Node, err = cluster.New(n.Cfg, n.FSM); err != nil {
		n.ln.Close()
		return err
	}
	n.grpc = grpc.NewServer(grpc.Creds(credentials.NewTLS(n.Cfg.ServerTLS)))
	n.Node.RegisterGRPC(n.grpc)
	go func() { _ = n.grpc.Serve(n.ln) }()
	n.down = false
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Node.JoinAny(ctx, n.Cfg.Join); err != nil {
		t.Fatalf("%s: join: %v", n.ID, err)
	}
	return nil
}

// Stop shuts the node down gracefully and seals its barrier, as a kmsd
// process that exits.
func (n *FSMNode) Stop() {
	if n.down {
		return
	}
	n.down = true
	_ = n.Node.Shutdown()
	n.grpc.Stop()
	n.Barrier.Seal()
}

// Down reports whether the node is stopped.
func (n *FSMNode) Down() bool { return n.down }

// Restart starts a stopped node again on its data folder, as a new
// process: a fresh state machine (Raft restores it from the snapshot and
// the log) and a fresh barrier unsealed from seal.json (file seal).
func (n *FSMNode) Restart(t testing.TB) {
	t.Helper()
	n.FSM = fsm.New(fsm.Config{})
	n.Barrier = seal.NewBarrier(n.FSM)
	if err := n.Barrier.UnsealFile(n.Dir); err != nil {
		t.Fatalf("%s: unseal: %v", n.ID, err)
	}
	n.Cfg.Join, n.Cfg.Bootstrap = nil, false
	n.Cfg.Barrier, n.Cfg.Keyring, n.Cfg.NewJoinKeys = n.Barrier, n.FSM, joinKeys(n.Barrier, n.Dir)
	if err := n.start(t); err != nil {
		t.Fatalf("%s: restart: %v", n.ID, err)
	}
}

// Token creates a join token through the leader.
func (c *FSMCluster) Token() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, _, err := c.Leader().Node.CreateJoinToken(ctx, time.Minute, "clustertest")
	if err != nil {
		c.t.Fatalf("join token: %v", err)
	}
	return token
}

// Leader waits until exactly one running node leads and returns it.
func (c *FSMCluster) Leader() *FSMNode {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var leaders []*FSMNode
		for _, n := range c.Nodes {
			if !n.down && n.Node.IsLeader() {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no single leader within 15s")
	return nil
}

// Follower returns a running node that does not lead.
func (c *FSMCluster) Follower() *FSMNode {
	c.t.Helper()
	leader := c.Leader()
	for _, n := range c.Nodes {
		if !n.down && n != leader {
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

// WaitVoters waits until the leader counts n voters.
func (c *FSMCluster) WaitVoters(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Leader().Node.Status(context.Background())
		if err == nil && st.Voters == n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("the cluster did not reach %d voters within 20s", n)
}

// mutedLog routes node logs to t.Log until the test's cleanup mutes it.
type mutedLog struct {
	t     testing.TB
	mu    sync.Mutex
	muted bool
}

func (l *mutedLog) mute() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.muted = true
}

func (l *mutedLog) writer(id string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.muted {
			l.t.Logf("%s: %s", id, p)
		}
		return len(p), nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
