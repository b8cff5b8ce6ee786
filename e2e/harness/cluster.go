package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Cluster is a set of `kmsd serve` processes on 127.0.0.1 that share one
// PKI. Node i (0-based) has the node id "node-<i+1>", a node certificate
// that names it, and its data in <Dir>/node-<i+1>; the PKI is in <Dir>/pki,
// so Dir works as kmsctl's --dev-dir.
type Cluster struct {
	Dir   string
	PKI   PKI
	Nodes []*Node
	// Net is the network between the nodes, with WithFaultNet.
	Net *FaultNet

	// InitOutput is what `kmsd init` printed, with WithInit.
	InitOutput string

	opts             clusterOptions
	mu               sync.Mutex // guards Nodes while AddNode runs
	reportedNoDigest bool       // a missing store digest was reported
}

type clusterOptions struct {
	name     string
	join     bool
	args     []string
	env      []string
	initArgs []string
	sealFrom string
	pki      *PKI
	faultNet bool
}

// WithEnv adds environment variables (KEY=value) to every node's process;
// each node's Env can be changed before a Restart.
func WithEnv(env ...string) Option {
	return func(o *clusterOptions) { o.env = append(o.env, env...) }
}

// WithInit runs `kmsd init --data-dir <node-1's folder> args...` before
// node-1's first start (Cluster.InitOutput keeps its output), for a seal
// that only init creates, such as shamir.
func WithInit(args ...string) Option {
	return func(o *clusterOptions) { o.initArgs = append([]string{}, args...) }
}

// Option configures StartCluster.
type Option func(*clusterOptions)

// JoinAtStart starts nodes 2..n with --join <node-1 admin address>, and
// StartCluster then waits until all n are voters. Without it they start
// with neither --bootstrap nor --join and wait for `kmsctl cluster join`.
func JoinAtStart() Option { return func(o *clusterOptions) { o.join = true } }

// WithArgs appends flags to every node's command line (kept for restarts).
func WithArgs(args ...string) Option {
	return func(o *clusterOptions) { o.args = append(o.args, args...) }
}

// WithName prefixes the nodes' log lines with name, to tell two clusters of
// one test apart.
func WithName(name string) Option { return func(o *clusterOptions) { o.name = name } }

// WithSealFrom copies the seal record and unseal key of another cluster's
// node (seal.json and unseal.key of its data folder dir) into node-1's data
// folder before its first start, so that this cluster has the same root
// key and cluster id: it can then restore that cluster's snapshots.
func WithSealFrom(dir string) Option { return func(o *clusterOptions) { o.sealFrom = dir } }

// WithPKI makes the cluster use another cluster's PKI instead of a new one:
// the same CAs, so that clients keep their identities (a client's identity
// names the CA that issued its certificate).
func WithPKI(p PKI) Option { return func(o *clusterOptions) { o.pki = &p } }

// ClusterStabilization is the --autopilot-stabilization every cluster node
// gets: how long a joined server waits before it is promoted to voter.
const ClusterStabilization = "1s"

// StartCluster writes a PKI and starts n nodes, one after the other, each
// waited for until it answers KMIP: node-1 with --bootstrap, the others as
// the options say. Every node gets fresh ports, a data folder under a new
// t.TempDir(), its output in t.Log, and is stopped by t.Cleanup.
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	kmsdBinary(t) // build before the first node needs it
	c := &Cluster{Dir: t.TempDir()}
	for _, o := range opts {
		o(&c.opts)
	}
	if c.opts.pki != nil {
		c.PKI = *c.opts.pki
	} else {
		c.PKI = WritePKI(t, filepath.Join(c.Dir, "pki"))
	}
	if c.opts.faultNet {
		c.Net = newFaultNet()
		t.Cleanup(c.Net.close) // after the nodes' cleanups, which run first
	}
	for i := range n {
		c.Nodes = append(c.Nodes, c.newNode(t, i))
	}
	if c.opts.sealFrom != "" {
		for _, f := range []string{"seal.json", "unseal.key"} {
			copyFile(t, filepath.Join(c.opts.sealFrom, f), filepath.Join(c.Nodes[0].Dir, f))
		}
	}
	if c.opts.initArgs != nil {
		cmd := exec.Command(kmsdBinary(t), append([]string{"init", "--data-dir", c.Nodes[0].Dir}, c.opts.initArgs...)...)
		cmd.Env = append(os.Environ(), c.opts.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("harness: kmsd init: %v\n%s", err, out)
		}
		c.InitOutput = string(out)
	}
	for i, node := range c.Nodes {
		node.Env = append([]string{}, c.opts.env...)
		node.args = c.serveArgs(t, i, i == 0, nil)
		if i > 0 && c.opts.join {
			node.args = c.joinArgs(t, i, []int{0})
		}
		node.start(t)
	}
	if c.opts.join {
		c.WaitVoters(t, n)
	}
	return c
}

// newNode reserves the ports and the data folder of node i.
func (c *Cluster) newNode(t testing.TB, i int) *Node {
	t.Helper()
	name := "node-" + strconv.Itoa(i+1)
	prefix := name
	if c.opts.name != "" {
		prefix = c.opts.name + "/" + name
	}
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(FreePort(t)) }
	n := &Node{
		Dir:      filepath.Join(c.Dir, name),
		KMIPAddr: addr(), RaftAddr: addr(), AdminAddr: addr(), GossipAddr: addr(),
		PKI:  c.PKI,
		Name: prefix,
		t:    t,
	}
	if c.Net != nil {
		n.raftListen, n.adminListen = c.Net.listenAddr(t, i), c.Net.listenAddr(t, i)
		n.RaftAddr, n.AdminAddr = c.Net.relay(t, i, n.raftListen), c.Net.relay(t, i, n.adminListen)
	}
	n.NodeCert, n.NodeKey = c.PKI.NodeCert(t, c.ID(i))
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.cleanup)
	return n
}

// ID returns the node id of node i.
func (c *Cluster) ID(i int) string { return "node-" + strconv.Itoa(i+1) }

// serveArgs is the command line of node i.
func (c *Cluster) serveArgs(t testing.TB, i int, bootstrap bool, join []string) []string {
	n := c.Nodes[i]
	args := []string{kmsdBinary(t), "serve",
		"--data-dir", n.Dir, "--node-id", c.ID(i),
		"--kmip-addr", n.KMIPAddr, "--gossip-addr", n.GossipAddr,
		"--tls-cert", c.PKI.ServerCert, "--tls-key", c.PKI.ServerKey, "--client-ca", c.PKI.CA,
		"--admin-ca", c.PKI.AdminCA, "--node-ca", c.PKI.NodeCA, "--node-cert", n.NodeCert, "--node-key", n.NodeKey,
		"--gossip-key-file", c.PKI.GossipKey,
		"--autopilot-stabilization", ClusterStabilization,
	}
	if n.raftListen != "" {
		args = append(args, "--raft-addr", n.raftListen, "--raft-advertise", n.RaftAddr, "--admin-addr", n.adminListen, "--admin-advertise", n.AdminAddr)
	} else {
		args = append(args, "--admin-addr", n.AdminAddr, "--raft-addr", n.RaftAddr)
	}
	if bootstrap {
		args = append(args, "--bootstrap")
	}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	return append(args, c.opts.args...)
}

// Running returns the indexes of the nodes whose process is running.
func (c *Cluster) Running() []int {
	var out []int
	for i, n := range c.Nodes {
		if n.running() != nil {
			out = append(out, i)
		}
	}
	return out
}

// Rejoin starts the stopped node i again as a new server: its data folder
// is emptied and it starts with --join naming the running nodes, without
// --bootstrap. It returns once the node answers KMIP, which it does after
// the leader has accepted it.
func (c *Cluster) Rejoin(t testing.TB, i int) {
	t.Helper()
	n := c.Nodes[i]
	if n.running() != nil {
		t.Fatalf("harness: rejoin %s: still running; Stop or Kill it first", n.Name)
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if len(c.Running()) == 0 {
		t.Fatalf("harness: rejoin %s: no running node to join", n.Name)
	}
	n.args = c.joinArgs(t, i, c.Running())
	n.start(t)
}

// joinArgs is the command line of node i joining through the nodes via,
// with a join token created through the first of them.
func (c *Cluster) joinArgs(t testing.TB, i int, via []int) []string {
	t.Helper()
	var join []string
	for _, j := range via {
		join = append(join, c.Nodes[j].AdminAddr)
	}
	return append(c.serveArgs(t, i, false, join), "--join-token", c.JoinToken(t, via[0]))
}

// JoinToken creates a join token through node i.
func (c *Cluster) JoinToken(t testing.TB, i int) string {
	t.Helper()
	out, err := c.AdminCtl(t, i, "-o", "json", "cluster", "token", "create")
	if err != nil {
		t.Fatalf("harness: join token: %v", err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
		t.Fatalf("harness: join token: %q: %v", out, err)
	}
	return tok.Token
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// String names the nodes and their addresses, for failure messages.
func (c *Cluster) String() string {
	var b strings.Builder
	for i, n := range c.Nodes {
		fmt.Fprintf(&b, "%s (%s): kmip %s admin %s raft %s\n", n.Name, c.ID(i), n.KMIPAddr, n.AdminAddr, n.RaftAddr)
	}
	return b.String()
}
