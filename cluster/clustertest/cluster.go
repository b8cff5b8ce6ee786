package clustertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
)

// Node is one in-process cluster member with its gRPC server.
type Node struct {
	ID   string
	Dir  string
	Node *cluster.Node
	KV   *KV
	Cfg  cluster.Config

	grpc *grpc.Server
	ln   net.Listener
	down bool
}

// Cluster is a set of in-process nodes sharing one PKI and gossip key; the
// first node creates the root key, the others receive it by joining.
type Cluster struct {
	t      testing.TB
	PKI    *PKI
	Nodes  []*Node
	gossip []byte
}

// New returns an empty cluster; add nodes with Start.
func New(t testing.TB) *Cluster {
	c := &Cluster{t: t, PKI: NewPKI(t), gossip: random(t, 32)}
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
	id := fmt.Sprintf("n%d", i+1)
	dir := c.t.TempDir()
	keys := seal.NewBarrier(noKeys{})
	if i == 0 {
		if _, err := keys.Init(dir, seal.InitOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
	cfg := cluster.Config{
		NodeID: id, DataDir: dir,
		RaftAddr: freeAddr(c.t), AdminAddr: freeAddr(c.t), GossipAddr: freeAddr(c.t), GossipKey: c.gossip,
		Bootstrap: i == 0, Barrier: keys, NewJoinKeys: joinKeys(keys, dir),
		NodeCAs:          c.PKI.NodeCAs(),
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		Autopilot: cluster.AutopilotConfig{ServerStabilizationTime: 200 * time.Millisecond, MinQuorum: 3},
		Logger:    slog.New(slog.NewTextHandler(testWriter{c.t, id}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if i > 0 {
		cfg.Join = []string{c.Nodes[0].Cfg.AdminAddr}
		cfg.JoinToken = c.Token()
	}
	for _, f := range configure {
		f(&cfg)
	}
	if cfg.ServerTLS == nil && cfg.ClientTLS == nil {
		// The certificate names exactly this node's id: peers admit a
		// node by the id in its certificate.
		cert := c.PKI.NodeCert(cfg.NodeID)
		cfg.ServerTLS, cfg.ClientTLS = c.PKI.ServerTLS(cert), c.PKI.ClientTLS(cert)
	}
	n := &Node{ID: id, Dir: cfg.DataDir, Cfg: cfg}
	c.Nodes = append(c.Nodes, n)
	// Free ports are only probably free: other processes may take one
	// between the probe and the bind. Probe again and retry then.
	for attempt := 0; ; attempt++ {
		err := n.start(c.t)
		if err == nil {
			return n
		}
		if attempt == 4 || !strings.Contains(err.Error(), "address already in use") {
			c.t.Fatalf("%s: %v", id, err)
		}
		n.Cfg.RaftAddr, n.Cfg.AdminAddr, n.Cfg.GossipAddr = freeAddr(c.t), freeAddr(c.t), freeAddr(c.t)
	}
}

func (n *Node) start(t testing.TB) error {
	t.Helper()
	n.KV = NewKV()
	var err error
	if n.ln, err = net.Listen("tcp", n.Cfg.AdminAddr); err != nil {
		return err
	}
	if n.Node, err = cluster.New(n.Cfg, n.KV); err != nil {
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

// Stop shuts the node down gracefully (a leader hands over leadership).
func (n *Node) Stop() {
	if n.down {
		return
	}
	n.down = true
	_ = n.Node.Shutdown()
	n.grpc.Stop()
}

// Restart starts a stopped node again on the same data folder.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Cfg.Join = nil
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

// noKeys is an empty keyring: these nodes seal no objects.
type noKeys struct{}

func (noKeys) DataKey(uint32) ([]byte, bool)         { return nil, false }
func (noKeys) LatestDataKey() (uint32, []byte, bool) { return 0, nil, false }

type joiner struct {
	b   *seal.Barrier
	jk  *seal.JoinKey
	dir string
}

func joinKeys(b *seal.Barrier, dir string) func() (cluster.JoinKeys, error) {
	return func() (cluster.JoinKeys, error) {
		jk, err := seal.NewJoinKey()
		return &joiner{b: b, jk: jk, dir: dir}, err
	}
}

func (j *joiner) Public() []byte { return j.jk.Public() }

func (j *joiner) Accept(wrapped, info, _ []byte) error {
	if err := j.b.UnsealFromJoin(j.jk, wrapped, info); err != nil {
		return err
	}
	return j.b.Protect(j.dir, seal.InitOptions{})
}

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

// WaitVoters waits until the leader counts n healthy voters.
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

type testWriter struct {
	t  testing.TB
	id string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.id, p)
	return len(p), nil
}
