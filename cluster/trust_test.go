package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
	"github.com/kmsd/kmsd/proto/clusterpb"
)

// nodeClient calls the node service of addr presenting cert, trusting the
// node CA.
func nodeClient(t *testing.T, c *clustertest.Cluster, addr string, cfg *tls.Config) clusterpb.ClusterClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return clusterpb.NewClusterClient(conn)
}

// raftAnswers reports whether the Raft port completes a handshake with cfg
// and then reads from the connection.
func raftAnswers(addr string, cfg *tls.Config) bool {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte{0}); err != nil {
		return false
	}
	_, err = conn.Read(make([]byte, 1))
	var ne net.Error
	// A timeout means the server kept the connection open: it accepted us.
	return err == nil || errors.As(err, &ne) && ne.Timeout()
}

// TestNodePortsRefuseOtherIdentities tries the node ports (Raft and the node
// service) with certificates that must get nothing: a KMIP client CA
// certificate that claims to be a node, an admin CA certificate, and a real
// node CA certificate for an id that is not a member.
func TestNodePortsRefuseOtherIdentities(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start()
	c.Start()
	c.WaitVoters(2)

	forgedNode, err := c.PKI.ClientCA.Issue("n2", []string{cluster.NodeOrganization})
	if err != nil {
		t.Fatal(err)
	}
	forgedURI, err := c.PKI.ClientCA.IssueNode("n2")
	if err != nil {
		t.Fatal(err)
	}
	adminCert := c.PKI.Cert(clustertest.AdminOrganization)
	stranger := c.PKI.NodeCert("n9")
	member := c.PKI.NodeCert("n2")

	// The client presents its certificate and trusts the node CA, so only
	// the server's check of the client stands between it and the port.
	callers := []struct {
		name string
		cert tls.Certificate
	}{
		{"client CA cert with O=kmsd-nodes and a member's name", forgedNode},
		{"client CA cert with a member's node URI", forgedURI},
		{"admin CA cert", adminCert},
		{"node CA cert of a non-member", stranger},
	}
	for _, caller := range callers {
		t.Run(caller.name, func(t *testing.T) {
			cfg := c.PKI.ClientTLS(caller.cert)
			if raftAnswers(leader.Node.RaftAddr(), cfg) {
				t.Error("the Raft port accepted the connection")
			}
			nc := nodeClient(t, c, leader.Cfg.AdminAddr, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, err := nc.Forward(ctx, &clusterpb.ForwardRequest{Command: []byte("stolen=1")}); err == nil {
				t.Error("Forward accepted")
			}
			if _, err := nc.ReadIndex(ctx, &clusterpb.ReadIndexRequest{}); err == nil {
				t.Error("ReadIndex accepted")
			}
			if _, err := nc.Stats(ctx, &clusterpb.StatsRequest{}); err == nil {
				t.Error("Stats accepted")
			}
			// Without a token nobody joins, and a join for another id
			// than the certificate's is refused before the token counts.
			resp, err := nc.JoinCluster(ctx, &clusterpb.JoinClusterRequest{Id: "n2", Token: c.Token(), RaftAddr: "127.0.0.1:1", AdminAddr: "127.0.0.1:2", PublicKey: make([]byte, 32)})
			if err == nil || len(resp.GetWrappedKeys()) > 0 {
				t.Error("JoinCluster handed out keys")
			}
		})
	}
	if _, ok := leader.KV.Get("stolen"); ok {
		t.Fatal("a refused caller wrote to the store")
	}

	// The real member passes, which shows the checks above are the
	// identity checks and not a broken client.
	nc := nodeClient(t, c, leader.Cfg.AdminAddr, c.PKI.ClientTLS(member))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := nc.ReadIndex(ctx, &clusterpb.ReadIndexRequest{}); err != nil {
		t.Fatalf("a member's ReadIndex: %v", err)
	}
}

// TestForgedForwardIsRefused sends the leader undecodable commands with a
// member's certificate: each is refused, no replica panics, and the cluster
// keeps working.
func TestForgedForwardIsRefused(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start()
	c.Start()
	c.WaitVoters(2)
	nc := nodeClient(t, c, leader.Cfg.AdminAddr, c.PKI.ClientTLS(c.PKI.NodeCert("n2")))
	for _, cmd := range [][]byte{[]byte("no equals sign"), {}, {0xff, 0x00}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := nc.Forward(ctx, &clusterpb.ForwardRequest{Command: cmd})
		cancel()
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "malformed") {
			t.Errorf("forged command %q: %v, want PermissionDenied (malformed)", cmd, err)
		}
	}
	apply(t, c.Leader(), "after=1")
	for _, n := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.Node.ReadBarrier(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if v, _ := n.KV.Get("after"); v != "1" {
			t.Errorf("%s: the cluster stopped applying after the forged commands", n.ID)
		}
	}
}

// TestJoinNeedsAValidToken: no token, a wrong one, a used one and one for
// another id are refused with a reason; a fresh token admits exactly one
// node.
func TestJoinNeedsAValidToken(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start()
	c.Leader()
	lone := func() *clustertest.Node {
		return c.Start(func(cfg *cluster.Config) { cfg.Join = nil })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	n2 := lone()
	if err := n2.Node.Join(ctx, leader.Cfg.AdminAddr, ""); !errors.Is(err, cluster.ErrNoJoinToken) {
		t.Errorf("no token: %v, want ErrNoJoinToken", err)
	}
	for _, bad := range []string{"kmsd-join-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-token"} {
		if err := n2.Node.Join(ctx, leader.Cfg.AdminAddr, bad); !errors.Is(err, cluster.ErrJoinRefused) {
			t.Errorf("token %q: %v, want ErrJoinRefused", bad, err)
		}
	}
	token := c.Token()
	if err := n2.Node.Join(ctx, leader.Cfg.AdminAddr, token); err != nil {
		t.Fatalf("join with a fresh token: %v", err)
	}
	n3 := lone()
	err := n3.Node.Join(ctx, leader.Cfg.AdminAddr, token)
	if !errors.Is(err, cluster.ErrJoinRefused) || !strings.Contains(err.Error(), "already used") {
		t.Errorf("reused token: %v, want a refusal saying it is used", err)
	}
	c.WaitVoters(2)
	if _, _, err := leader.Node.CreateJoinToken(ctx, time.Second, "op"); !errors.Is(err, cluster.ErrInvalidArgument) {
		t.Errorf("a 1s token: %v, want ErrInvalidArgument", err)
	}
}

// TestGossipAdmitsOnlyMembers: a process that holds the gossip key but whose
// node id is not a member of the Raft configuration is not taken into the
// gossip pool, while a member that joins is.
func TestGossipAdmitsOnlyMembers(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start()
	c.Leader()
	host, _, _ := net.SplitHostPort(leader.Cfg.GossipAddr)
	mc := memberlist.DefaultLANConfig()
	mc.Name = "n9"
	mc.BindAddr, mc.BindPort, mc.AdvertiseAddr = host, 0, host
	mc.SecretKey = leader.Cfg.GossipKey
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.LogOutput = io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ml.Shutdown() }()
	_, _ = ml.Join([]string{leader.Cfg.GossipAddr})

	c.Start()
	c.WaitVoters(2)
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(leader.Node.GossipPeers(), "n2") {
		if time.Now().After(deadline) {
			t.Fatalf("the member n2 is not in the gossip pool: %v", leader.Node.GossipPeers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if peers := leader.Node.GossipPeers(); slices.Contains(peers, "n9") {
		t.Fatalf("the gossip pool admitted a non-member: %v", peers)
	}
}

// TestRaftClaimsMatchCertificates: a member that sends a Raft request under
// another member's id has its connection closed before raft reads the
// request; the same request under its own id is answered.
func TestRaftClaimsMatchCertificates(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start()
	c.Start()
	c.WaitVoters(2)
	n2 := c.Nodes[1]
	vote := func(claim string) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", leader.Node.RaftAddr(), c.PKI.ClientTLS(c.PKI.NodeCert("n2")))
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write([]byte{1}); err != nil { // a RequestVote
			return err
		}
		req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(claim), Addr: []byte(n2.Node.RaftAddr())}}
		if err := codec.NewEncoder(conn, &codec.MsgpackHandle{}).Encode(req); err != nil {
			return err
		}
		_, err = conn.Read(make([]byte, 1))
		return err
	}
	if err := vote("n1"); err == nil {
		t.Error("a request claiming another member's id was answered")
	}
	if err := vote("n2"); err != nil {
		t.Errorf("a request under the sender's own id: %v", err)
	}
	apply(t, c.Leader(), "still=1")
}

// TestRaftHandshakeTimeout: a TCP connection to the Raft port that never
// completes its TLS handshake, silent or stopping mid-hello, is closed
// after HandshakeTimeout, and the node keeps working.
func TestRaftHandshakeTimeout(t *testing.T) {
	c := clustertest.New(t)
	leader := c.Start(func(cfg *cluster.Config) { cfg.HandshakeTimeout = 300 * time.Millisecond })
	c.WaitVoters(1)
	for _, tt := range []struct {
		name  string
		hello []byte
	}{
		{"silent", nil},
		{"partial client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", leader.Node.RaftAddr(), 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(tt.hello); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a connection that never finished TLS is still open")
			}
		})
	}
	apply(t, c.Leader(), "after=1")
}
