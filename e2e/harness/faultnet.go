package harness

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
)

// FaultNet is a network between the nodes of a cluster that a test can cut.
// Each node listens for Raft and gRPC on an address of its own,
// 127.<a>.<b>.<node index+1>, and connects to its peers from that address
// (kmsd does when --raft-addr names an IP); it advertises a relay on
// 127.0.0.1 instead, and the relays forward everything. A relay tells the
// node at each end of a connection from the source address, so a cut is one
// direction between two nodes: the bytes from one to the other wait in the
// relay (and then in the kernel's socket buffers) until the link heals, as
// packets do when a link drops them and TCP retransmits. A connection whose
// source is not a node (kmsctl, the test) is never cut.
type FaultNet struct {
	prefix [3]byte // 127.a.b

	mu      sync.Mutex
	cut     map[[2]int]bool // from, to
	changed chan struct{}   // closed and replaced at each change
	closed  chan struct{}
	relays  []net.Listener
	conns   map[net.Conn]struct{}
}

func newFaultNet() *FaultNet {
	return &FaultNet{
		prefix:  [3]byte{127, byte(2 + rand.IntN(250)), byte(2 + rand.IntN(250))},
		cut:     map[[2]int]bool{},
		changed: make(chan struct{}),
		closed:  make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
}

// WithFaultNet puts the cluster's Raft and node-service traffic on a
// FaultNet (Cluster.Net).
func WithFaultNet() Option { return func(o *clusterOptions) { o.faultNet = true } }

// ip is node i's own address.
func (f *FaultNet) ip(i int) string {
	return net.IPv4(f.prefix[0], f.prefix[1], f.prefix[2], byte(i+1)).String()
}

// nodeAt returns the index of the node whose address ip is, or -1.
func (f *FaultNet) nodeAt(ip net.IP) int {
	v4 := ip.To4()
	if v4 == nil || v4[0] != f.prefix[0] || v4[1] != f.prefix[1] || v4[2] != f.prefix[2] || v4[3] == 0 {
		return -1
	}
	return int(v4[3]) - 1
}

// relay listens on a new 127.0.0.1 port and forwards each connection to
// node to's address target. It returns the relay's address.
func (f *FaultNet) relay(t testing.TB, to int, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: relay: %v", err)
	}
	f.mu.Lock()
	f.relays = append(f.relays, ln)
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			from := -1
			if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
				from = f.nodeAt(a.IP)
			}
			go f.forward(c, from, to, target)
		}
	}()
	return ln.Addr().String()
}

func (f *FaultNet) forward(down net.Conn, from, to int, target string) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		down.Close()
		return
	}
	if !f.track(down, up) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.pump(up, down, from, to) }()
	go func() { defer wg.Done(); f.pump(down, up, to, from) }()
	wg.Wait()
	f.untrack(down, up)
}

// pump copies src to dst, holding each chunk while the link from -> to is
// cut. It closes both ends when either fails.
func (f *FaultNet) pump(dst, src net.Conn, from, to int) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !f.waitOpen(from, to) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitOpen blocks while the link from -> to is cut; false once the net is
// closed.
func (f *FaultNet) waitOpen(from, to int) bool {
	for {
		f.mu.Lock()
		cut, ch := f.cut[[2]int{from, to}], f.changed
		f.mu.Unlock()
		if !cut {
			return true
		}
		select {
		case <-ch:
		case <-f.closed:
			return false
		}
	}
}

func (f *FaultNet) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		for _, c := range cs {
			c.Close()
		}
		return false
	default:
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *FaultNet) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

// set changes links under the lock and wakes the pumps.
func (f *FaultNet) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
	close(f.changed)
	f.changed = make(chan struct{})
}

// Cut holds the bytes from node from to node to (one direction).
func (f *FaultNet) Cut(from, to int) { f.set(func() { f.cut[[2]int{from, to}] = true }) }

// Partition cuts both directions between every node of a and every node
// of b.
func (f *FaultNet) Partition(a, b []int) {
	f.set(func() {
		for _, i := range a {
			for _, j := range b {
				f.cut[[2]int{i, j}], f.cut[[2]int{j, i}] = true, true
			}
		}
	})
}

// Heal restores every link.
func (f *FaultNet) Heal() { f.set(func() { clear(f.cut) }) }

// Cuts lists the links cut now, as "from->to" node indexes.
func (f *FaultNet) Cuts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, v := range f.cut {
		if v {
			out = append(out, fmt.Sprintf("%d->%d", k[0], k[1]))
		}
	}
	return out
}

func (f *FaultNet) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.closed:
		return
	default:
	}
	close(f.closed)
	for _, ln := range f.relays {
		ln.Close()
	}
	for c := range f.conns {
		c.Close()
	}
}

// listenAddr is node i's own address with a free port.
func (f *FaultNet) listenAddr(t testing.TB, i int) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(f.ip(i), "0"))
	if err != nil {
		t.Fatalf("harness: fault net address of node %d: %v", i, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Balancer is a TCP load balancer on 127.0.0.1 in front of the cluster's
// KMIP ports: each connection goes to the next node, in turn, that accepts
// it. It returns its address; it closes at the end of the test.
func (c *Cluster) Balancer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: balancer: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	var next int
	var mu sync.Mutex
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer down.Close()
				addrs := c.KMIPAddrs()
				mu.Lock()
				start := next
				next++
				mu.Unlock()
				for k := range addrs {
					up, err := net.Dial("tcp", addrs[(start+k)%len(addrs)])
					if err != nil {
						continue
					}
					go func() { _, _ = io.Copy(up, down); up.Close() }()
					_, _ = io.Copy(down, up)
					up.Close()
					return
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// Pause stops the node's process with SIGSTOP; Resume continues it.
func (n *Node) Pause() error { return n.signal(syscall.SIGSTOP) }

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() error { return n.signal(syscall.SIGCONT) }

func (n *Node) signal(sig syscall.Signal) error {
	p := n.running()
	if p == nil {
		return errors.New("harness: " + n.Name + " is not running")
	}
	return p.cmd.Process.Signal(sig)
}

// AddNode starts one more node, joining through the running nodes with a
// join token, and returns its index. It is a non-voter until autopilot
// promotes it (ClusterStabilization).
func (c *Cluster) AddNode(t testing.TB) int {
	t.Helper()
	i := len(c.Nodes)
	n := c.newNode(t, i)
	n.Env = append([]string{}, c.opts.env...)
	c.mu.Lock()
	c.Nodes = append(c.Nodes, n)
	c.mu.Unlock()
	n.args = c.joinArgs(t, i, c.Running())
	n.start(t)
	return i
}

// Remove removes node i from the cluster's configuration through node via
// and stops it; RestartAll leaves it stopped.
func (c *Cluster) Remove(t testing.TB, i, via int) error {
	t.Helper()
	if _, err := c.AdminCtl(t, via, "cluster", "remove", c.ID(i)); err != nil {
		return err
	}
	c.MarkRemoved(i)
	return nil
}

// MarkRemoved stops node i and records that it left the cluster, for a
// removal that was done although the call that asked for it failed.
func (c *Cluster) MarkRemoved(i int) {
	c.Nodes[i].removed = true
	c.Nodes[i].Stop()
}

// KMIPAddrs returns the KMIP addresses of all nodes, safe to call while
// another goroutine adds nodes.
func (c *Cluster) KMIPAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.KMIPAddr
	}
	return out
}

// RestartAll starts every stopped node at once, as after a power loss,
// and waits until each is ready: a node that needs its peers for a quorum
// is not waited for before they start.
func (c *Cluster) RestartAll(t testing.TB) {
	t.Helper()
	var started []*Node
	var procs []*process
	for _, n := range c.Nodes {
		if n.removed || n.running() != nil {
			continue
		}
		started, procs = append(started, n), append(procs, n.launch(t))
	}
	for i, n := range started {
		n.waitReady(t, procs[i])
	}
}
