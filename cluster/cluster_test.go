package cluster_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
)

func threeNodes(t testing.TB) *clustertest.Cluster {
	c := clustertest.New(t)
	c.Start()
	c.Leader()
	c.Start()
	c.Start()
	c.WaitVoters(3)
	return c
}

func apply(t testing.TB, n *clustertest.Node, cmd string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := n.Node.Apply(ctx, []byte(cmd))
	if err != nil {
		t.Fatalf("%s: Apply(%q): %v", n.ID, cmd, err)
	}
	return res
}

// A follower forwards a command to the leader and answers with the leader's
// result only once its own store has applied it.
func TestForwardingAndReadYourWrites(t *testing.T) {
	c := threeNodes(t)
	f := c.Follower()
	if got := apply(t, f, "k=1"); got != "" {
		t.Errorf("first write returned %v, want empty previous value", got)
	}
	if v, ok := f.KV.Get("k"); !ok || v != "1" {
		t.Fatalf("the forwarding follower has not applied its own write: %q %v", v, ok)
	}
	if got := apply(t, f, "k=2"); got != "1" {
		t.Errorf("forwarded result = %v, want the previous value 1", got)
	}
	for _, n := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.Node.ReadBarrier(ctx); err != nil {
			t.Fatalf("%s: ReadBarrier: %v", n.ID, err)
		}
		cancel()
		if v, _ := n.KV.Get("k"); v != "2" {
			t.Errorf("%s after a read barrier: k=%q, want 2", n.ID, v)
		}
	}
}

// Graceful shutdown of the leader hands leadership over, and every
// acknowledged write survives; the stopped node catches up on restart.
func TestLeaderHandoverAndCatchUp(t *testing.T) {
	c := threeNodes(t)
	for i := range 20 {
		apply(t, c.Nodes[i%3], fmt.Sprintf("a%d=%d", i, i))
	}
	old := c.Leader()
	start := time.Now()
	old.Stop()
	next := c.Leader()
	t.Logf("new leader %s after %v", next.ID, time.Since(start))
	for i := range 10 {
		apply(t, c.Follower(), fmt.Sprintf("b%d=%d", i, i))
	}
	old.Restart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.Node.ReadBarrier(ctx); err != nil {
		t.Fatal(err)
	}
	if old.KV.Count() != 30 {
		t.Errorf("restarted node holds %d keys, want 30", old.KV.Count())
	}
}

func TestMembership(t *testing.T) {
	c := threeNodes(t)
	ctx := context.Background()
	members, err := c.Follower().Node.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, m := range members {
		if m.Suffrage != cluster.SuffrageVoter || m.Gossip != cluster.GossipAlive || m.AdminAddr == "" {
			t.Errorf("member %+v", m)
		}
		if m.Leader {
			leaders++
		}
	}
	if len(members) != 3 || leaders != 1 {
		t.Fatalf("Members = %d with %d leaders", len(members), leaders)
	}

	victim := c.Follower()
	if err := c.Follower().Node.Remove(ctx, victim.ID); err != nil {
		t.Fatalf("Remove through a follower: %v", err)
	}
	if err := c.Leader().Node.Remove(ctx, "no-such-node"); !errors.Is(err, cluster.ErrUnknownMember) {
		t.Errorf("Remove(unknown) = %v, want ErrUnknownMember", err)
	}
	c.WaitVoters(2)

	target := c.Follower()
	if target == victim {
		for _, n := range c.Nodes {
			if n != victim && !n.Node.IsLeader() {
				target = n
			}
		}
	}
	if err := c.Leader().Node.TransferLeadership(ctx, target.ID); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !target.Node.IsLeader() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !target.Node.IsLeader() {
		t.Errorf("%s did not become leader", target.ID)
	}
}

// Snapshot streams the store; Restore on the leader replaces every node's.
func TestSnapshotRestore(t *testing.T) {
	c := threeNodes(t)
	apply(t, c.Leader(), "x=1")
	apply(t, c.Leader(), "y=2")
	var snap bytes.Buffer
	if err := c.Follower().Node.Snapshot(context.Background(), &snap); err != nil {
		t.Fatal(err)
	}
	apply(t, c.Leader(), "z=3")
	if err := c.Follower().Node.Restore(context.Background(), bytes.NewReader(snap.Bytes()), false); !errors.Is(err, cluster.ErrNotLeader) {
		t.Errorf("Restore on a follower = %v, want ErrNotLeader", err)
	}
	if err := c.Leader().Node.Restore(context.Background(), bytes.NewReader([]byte("garbage")), false); !errors.Is(err, cluster.ErrBadSnapshot) {
		t.Errorf("Restore(garbage) = %v, want ErrBadSnapshot", err)
	}
	if err := c.Leader().Node.Restore(context.Background(), bytes.NewReader(snap.Bytes()), true); err != nil {
		t.Fatal(err)
	}
	apply(t, c.Leader(), "w=4")
	for _, n := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Node.ReadBarrier(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, has := n.KV.Get("z"); has || n.KV.Count() != 3 {
			t.Errorf("%s after restore: %d keys, z present %v; want x, y, w", n.ID, n.KV.Count(), has)
		}
	}
}

// Raft and the node service accept only certificates of cluster nodes.
func TestNodeTrafficNeedsNodeCertificate(t *testing.T) {
	c := clustertest.New(t)
	n := c.Start()
	c.Leader()
	for _, org := range []string{"dev", "kmsd-admins"} {
		cfg := c.PKI.ClientTLS(c.PKI.Cert(org))
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", n.Node.RaftAddr(), cfg)
		if err != nil {
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = conn.Write([]byte{0})
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Errorf("raft port answered a %s certificate", org)
		}
		conn.Close()
	}

	// A node with a certificate of another organization cannot join.
	impostor := c.Start(func(cfg *cluster.Config) {
		cert := c.PKI.Cert("dev")
		cfg.ServerTLS, cfg.ClientTLS = c.PKI.ServerTLS(cert), c.PKI.ClientTLS(cert)
		cfg.Join = nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := impostor.Node.Join(ctx, n.Cfg.AdminAddr, c.Token()); err == nil {
		t.Error("a node without the node organization joined the cluster")
	}
}

// A leader that the cluster removes shuts its raft down; from then on its
// writes and reads fail at once with ErrShutdown instead of waiting out
// the apply timeout for a leader that will never come, so that its
// clients retry elsewhere and the process can stop promptly.
func TestRemovedNodeFailsFast(t *testing.T) {
	c := clustertest.New(t)
	long := func(cfg *cluster.Config) { cfg.ApplyTimeout = 5 * time.Minute }
	c.Start(long)
	c.Leader()
	c.Start(long)
	c.Start(long)
	c.WaitVoters(3)
	leader := c.Leader()
	apply(t, leader, "k=1")
	if err := leader.Node.Remove(context.Background(), leader.ID); err != nil {
		t.Fatalf("remove the leader: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := leader.Node.Apply(ctx, []byte("k=2")); !errors.Is(err, cluster.ErrShutdown) {
		t.Errorf("write on the removed node: %v, want ErrShutdown", err)
	}
	if err := leader.Node.ReadBarrier(ctx); !errors.Is(err, cluster.ErrShutdown) {
		t.Errorf("read barrier on the removed node: %v, want ErrShutdown", err)
	}
	c.WaitVoters(2)
	apply(t, c.Leader(), "k=3")
}

// Removing the leader through a follower: the leader shuts its raft down
// as soon as it has committed its own removal, so the forwarded call may
// never get its answer; the follower's retry then finds the member gone
// on the new leader, which is the outcome asked for.
func TestRemoveLeaderThroughFollower(t *testing.T) {
	c := clustertest.New(t)
	c.Start()
	c.Leader()
	c.Start()
	c.Start()
	c.WaitVoters(3)
	leader := c.Leader()
	apply(t, leader, "k=1")
	follower := c.Follower()
	if err := follower.Node.Remove(context.Background(), leader.ID); err != nil {
		t.Fatalf("remove the leader through %s: %v", follower.ID, err)
	}
	c.WaitVoters(2)
	apply(t, c.Leader(), "k=2")
}
