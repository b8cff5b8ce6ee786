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

// Node is one in-process cluster member with its gRPC server, its state
// machine (a KV, or the real *fsm.FSM in a cluster made by NewFSM) and its
// barrier.
type Node struct {
	ID      string
	Dir     string
	Node    *cluster.Node
	KV      *KV      // the state machine of a New cluster
	FSM     *fsm.FSM // the state machine of a NewFSM cluster
	Barrier *seal.Barrier
	Cfg     cluster.Config

	grpc *grpc.Server
	ln   net.Listener
	down bool
}

// Cluster is a set of in-process nodes sharing one PKI and gossip key; the
// first node creates the root key (file seal), the others receive it by
// joining with a join token.
type Cluster struct {
	t      testing.TB
	PKI    *PKI
	Nodes  []*Node
	gossip []byte
	logs   *mutedLog
	// withFSM: nodes run the real state machine with its keyring, which is
	// given to each node as its Keyring, and the first node creates
	// keyring version 1, as kmsd does.
	withFSM bool
}

// New returns an empty cluster of KV nodes; add nodes with Start.
func New(t testing.TB) *Cluster { return newCluster(t, false) }

// NewFSM returns an empty cluster whose nodes run the real state machine:
// what keyring operations need.
func NewFSM(t testing.TB) *Cluster { return newCluster(t, true) }

func newCluster(t testing.TB, withFSM bool) *Cluster {
	c := &Cluster{t: t, PKI: NewPKI(t), gossip: random(t, 32), logs: &mutedLog{t: t}, withFSM: withFSM}
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

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start adds a node: the first one bootstraps, later ones join the first.
// Unless a configure function sets ServerTLS or ClientTLS, the node gets a
// certificate of the node CA that names its node id, after configure ran.
func (c *Cluster) Start(configure ...func(*cluster.Config)) *Node {
	c.t.Helper()
	i := len(c.Nodes)
	n := &Node{ID: fmt.Sprintf("n%d", i+1), Dir: c.t.TempDir()}
	n.newState(c.withFSM)
	if i == 0 {
		if _, err := n.Barrier.Init(n.Dir, seal.InitOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	n.Cfg = cluster.Config{
		NodeID: n.ID, DataDir: n.Dir,
		RaftAddr: freeAddr(c.t), AdminAddr: freeAddr(c.t), GossipAddr: freeAddr(c.t), GossipKey: c.gossip,
		Bootstrap:        i == 0,
		NodeCAs:          c.PKI.NodeCAs(),
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		Autopilot: cluster.AutopilotConfig{ServerStabilizationTime: 200 * time.Millisecond, MinQuorum: 3},
		Logger:    slog.New(slog.NewTextHandler(c.logs.writer(n.ID), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	n.wire()
	if i > 0 {
		n.Cfg.Join = []string{c.Nodes[0].Cfg.AdminAddr}
		n.Cfg.JoinToken = c.Token()
	}
	for _, f := range configure {
		f(&n.Cfg)
	}
	if n.Cfg.ServerTLS == nil && n.Cfg.ClientTLS == nil {
		// The certificate names exactly this node's id: peers admit a
		// node by the id in its certificate.
		cert := c.PKI.NodeCert(n.Cfg.NodeID)
		n.Cfg.ServerTLS, n.Cfg.ClientTLS = c.PKI.ServerTLS(cert), c.PKI.ClientTLS(cert)
	}
	c.Nodes = append(c.Nodes, n)
	// Free ports are only probably free: other processes may take one
	// between the probe and the bind. Probe again and retry then.
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
	if i == 0 && c.withFSM {
		c.firstDataKey(n)
	}
	return n
}

// newState makes a fresh state machine and a sealed barrier over it, as a
// new kmsd process does.
func (n *Node) newState(withFSM bool) {
	if withFSM {
		n.FSM = fsm.New(fsm.Config{})
		n.Barrier = seal.NewBarrier(n.FSM)
		return
	}
	n.KV = NewKV()
	n.Barrier = seal.NewBarrier(noKeys{})
}

// wire points the configuration at the node's state and barrier.
func (n *Node) wire() {
	n.Cfg.Barrier = n.Barrier
	n.Cfg.NewJoinKeys = func() (cluster.JoinKeys, error) { return n.Barrier.NewJoining(n.Dir, seal.InitOptions{}) }
	n.Cfg.Keyring = nil
	if n.FSM != nil {
		n.Cfg.Keyring = n.FSM
	}
}

func (n *Node) stateMachine() cluster.StateMachine {
	if n.FSM != nil {
		return n.FSM
	}
	return n.KV
}

// firstDataKey gives the new cluster keyring version 1, as kmsd does.
func (c *Cluster) firstDataKey(n *Node) {
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

func (n *Node) start(t testing.TB) error {
	t.Helper()
	var err error
	if n.ln, err = net.Listen("tcp", n.Cfg.AdminAddr); err != nil {
		return err
	}
	if n.Node, err = cluster.New(n.Cfg, n.stateMachine()); err != nil {
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

// Stop shuts the node down gracefully (a leader hands over leadership) and
// seals its barrier, as a kmsd process that exits.
func (n *Node) Stop() {
	if n.down {
		return
	}
	n.down = true
	_ = n.Node.Shutdown()
	n.grpc.Stop()
	n.Barrier.Seal()
}

// Down reports whether the node is stopped.
func (n *Node) Down() bool { return n.down }

// Restart starts a stopped node again on its data folder, as a new
// process: a fresh state machine (Raft restores it from the snapshot and
// the log) and a fresh barrier unsealed from seal.json (file seal).
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.newState(n.FSM != nil)
	if err := n.Barrier.UnsealFile(n.Dir); err != nil {
		t.Fatalf("%s: unseal: %v", n.ID, err)
	}
	n.Cfg.Join, n.Cfg.Bootstrap = nil, false
	n.wire()
	if err := n.start(t); err != nil {
		t.Fatalf("%s: restart: %v", n.ID, err)
	}
}

// Token creates a join token through the leader.
func (c *Cluster) Token() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	token, _, err := c.Leader().Node.CreateJoinToken(ctx, time.Minute, "clustertest")
	if err != nil {
		c.t.Fatalf("join token: %v", err)
	}
	return token
}

// noKeys is an empty keyring: KV nodes seal no objects.
type noKeys struct{}

func (noKeys) DataKey(uint32) ([]byte, bool)         { return nil, false }
func (noKeys) LatestDataKey() (uint32, []byte, bool) { return 0, nil, false }

// Leader waits until exactly one running node leads and returns it.
func (c *Cluster) Leader() *Node {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var leaders []*Node
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
func (c *Cluster) Follower() *Node {
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
func (c *Cluster) WaitVoters(n int) {
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
