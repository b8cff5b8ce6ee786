package e2e_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/e2e/harness"
	"github.com/kmsd/kmsd/proto/clusterpb"
)

// maxFailover is how long the cluster may go without a leader after the
// leader dies.
const maxFailover = 15 * time.Second

// createThroughEach creates one key through each of nodes and records it in
// keys with its material.
func createThroughEach(t *testing.T, c *harness.Cluster, nodes []int, keys map[string]string) {
	t.Helper()
	for _, i := range nodes {
		id := createKey(t, c, i)
		m, err := getKey(t, c, i, id)
		if err != nil {
			t.Fatalf("key %s just created through %s: %v", id, c.Nodes[i].Name, err)
		}
		keys[id] = m
	}
}

// killLeader SIGKILLs the leader and returns its index and the new
// leader's, failing the test if the election takes longer than maxFailover.
func killLeader(t *testing.T, c *harness.Cluster) (killed, leader int) {
	t.Helper()
	killed = c.Leader(t)
	start := time.Now()
	c.Nodes[killed].Kill()
	leader = c.Leader(t)
	took := time.Since(start)
	t.Logf("%s was killed; %s leads %s later", c.Nodes[killed].Name, c.Nodes[leader].Name, took.Round(time.Millisecond))
	if took > maxFailover {
		t.Errorf("a new leader took %s after the leader died; want at most %s", took, maxFailover)
	}
	return killed, leader
}

// TestClusterLeaderFailover: after SIGKILL of the leader a survivor leads
// within maxFailover, writes go on, and no acknowledged write is lost. The
// killed node catches up after a restart. A follower that is removed,
// wiped and joined again catches up from scratch.
func TestClusterLeaderFailover(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart())
	keys := map[string]string{}
	createThroughEach(t, c, []int{0, 1, 2}, keys)

	killed, _ := killLeader(t, c)
	survivors := c.Running()
	createThroughEach(t, c, survivors, keys)
	readEverywhere(t, c, keys, survivors)

	c.Nodes[killed].Restart(t)
	c.WaitDigestsEqual(t)
	readEverywhere(t, c, keys, []int{killed})

	// Remove a follower, wipe it and join it again as a new server.
	leader := c.Leader(t)
	gone := c.Followers(leader)[0]
	if _, err := c.AdminCtl(t, leader, "cluster", "remove", c.ID(gone)); err != nil {
		t.Fatal(err)
	}
	c.Nodes[gone].Stop()
	c.WaitVoters(t, 2)
	createThroughEach(t, c, c.Running(), keys)
	c.Rejoin(t, gone)
	c.WaitVoters(t, 3)
	c.WaitDigestsEqual(t)
	readEverywhere(t, c, keys, []int{gone})
}

// TestFiveNodesSurviveTwoFailures: five voters lose the leader and one
// follower; the three survivors elect a leader, accept writes, serve every
// acknowledged key, and hold the same store.
func TestFiveNodesSurviveTwoFailures(t *testing.T) {
	c := harness.StartCluster(t, 5, harness.JoinAtStart())
	keys := map[string]string{}
	createThroughEach(t, c, c.Running(), keys)

	leader := c.Leader(t)
	follower := c.Followers(leader)[0]
	c.Nodes[follower].Kill()
	killLeader(t, c)
	survivors := c.Running()
	if len(survivors) != 3 {
		t.Fatalf("%d nodes running, want 3", len(survivors))
	}
	createThroughEach(t, c, survivors, keys)
	readEverywhere(t, c, keys, survivors)
	c.WaitDigestsEqual(t, survivors...)
}

// TestNodeTrafficNeedsNodeCertificate: only a certificate of the node CA
// that names a node may speak Raft or call the node-to-node gRPC service,
// and only a certificate of the admin CA with O kmsd-admins may use the
// admin API; a certificate of another CA is refused whatever its subject
// claims. The node certificate is the positive control for each check.
func TestNodeTrafficNeedsNodeCertificate(t *testing.T) {
	c := harness.StartCluster(t, 1)
	n := c.Nodes[0]
	pki := devpki.PathsIn(c.PKI.Dir)
	forgedCert, forgedKey := issueToFiles(t, pki.CACert, pki.CAKey, "node-1")
	adminNodeCert, adminNodeKey := issueToFiles(t, pki.AdminCACert, pki.AdminCAKey, "node-1")
	// codes.Unavailable: the gRPC port's TLS refuses the certificate;
	// codes.PermissionDenied: TLS accepts it, the policy refuses it.
	identities := []struct {
		name, cert, key string
		nodeService     codes.Code
	}{
		{"KMIP client (O=dev)", c.PKI.ClientCert, c.PKI.ClientKey, codes.Unavailable},
		{"admin (O=kmsd-admins)", c.PKI.AdminCert, c.PKI.AdminKey, codes.PermissionDenied},
		{"node certificate from the KMIP CA", forgedCert, forgedKey, codes.Unavailable},
		{"node certificate from the admin CA", adminNodeCert, adminNodeKey, codes.PermissionDenied},
		{"node (node-1)", n.NodeCert, n.NodeKey, codes.OK},
	}
	for _, id := range identities {
		t.Run(id.name, func(t *testing.T) {
			cfg := clientTLS(t, c.PKI.NodeCA, id.cert, id.key)
			checkNodeService(t, n.AdminAddr, cfg, id.nodeService)
			checkRaftPort(t, n.RaftAddr, cfg, id.nodeService == codes.OK)
		})
	}

	for _, id := range identities {
		if id.cert == c.PKI.AdminCert {
			continue
		}
		_, err := c.AdminCtlAs(t, 0, id.cert, id.key, "status")
		if err == nil || !strings.Contains(err.Error(), "not authorised") && !strings.Contains(err.Error(), "refused this client certificate") {
			t.Errorf("admin API with the %s certificate: err = %v, want \"not authorised\"", id.name, err)
		}
	}
	if _, err := c.AdminCtl(t, 0, "status"); err != nil {
		t.Errorf("admin API with the admin certificate: %v", err)
	}
	// The KMIP port trusts the KMIP CA only.
	for _, cert := range [][2]string{{c.PKI.AdminCert, c.PKI.AdminKey}, {n.NodeCert, n.NodeKey}} {
		if _, err := n.KmsctlAs(t, cert[0], cert[1], "key", "locate"); err == nil {
			t.Errorf("KMIP with %s: accepted", cert[0])
		}
	}
}

// issueToFiles issues a node certificate for id, with Organization
// kmsd-nodes and the node URI, from the CA in caCert and caKey, and writes
// it and its key to files.
func issueToFiles(t *testing.T, caCert, caKey, id string) (certFile, keyFile string) {
	t.Helper()
	ca, err := devpki.LoadAuthority(caCert, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueNode(id)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, id+".pem"), filepath.Join(dir, id+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func clientTLS(t *testing.T, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// checkNodeService calls Stats, ReadIndex and Forward on the node-to-node
// service; want is codes.OK for a member node.
func checkNodeService(t *testing.T, addr string, cfg *tls.Config, want codes.Code) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	client := clusterpb.NewClusterClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	calls := map[string]func() error{
		"Stats":     func() error { _, err := client.Stats(ctx, &clusterpb.StatsRequest{}); return err },
		"ReadIndex": func() error { _, err := client.ReadIndex(ctx, &clusterpb.ReadIndexRequest{}); return err },
	}
	for name, call := range calls {
		err := call()
		switch {
		case want == codes.OK && err != nil:
			t.Errorf("node service %s with a node certificate: %v", name, err)
		case want != codes.OK && status.Code(err) != want:
			t.Errorf("node service %s: err = %v, want %v", name, err, want)
		}
	}
}

// checkRaftPort completes a TLS handshake with the Raft port and reads.
// A refused peer sees the handshake fail or the connection end at once,
// without data; an accepted one sees the server wait for a Raft RPC.
func checkRaftPort(t *testing.T, addr string, cfg *tls.Config, allowed bool) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		if allowed {
			t.Errorf("raft port with a node certificate: %v", err)
		}
		return
	}
	defer func() { _ = conn.Close() }()
	wait := 5 * time.Second
	if allowed {
		wait = time.Second
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1)
	n, err := conn.Read(buf)
	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	switch {
	case allowed && !timedOut:
		t.Errorf("raft port with a node certificate: read = %d bytes, %v; want the server to wait for an RPC", n, err)
	case !allowed && (n > 0 || err == nil):
		t.Errorf("raft port sent %d bytes to a peer that is not a node", n)
	case !allowed && timedOut:
		t.Errorf("raft port kept a connection from a peer that is not a node open for %s", wait)
	}
}
