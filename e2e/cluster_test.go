package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/kmsd/kmsd/e2e/harness"
)

// createKey creates an AES-256 key through node i with kmsctl and returns
// its id.
func createKey(t *testing.T, c *harness.Cluster, i int) string {
	t.Helper()
	out, err := c.Kmsctl(t, i, "key", "create", "--alg", "AES", "--length", "256", "-o", "json")
	if err != nil {
		t.Fatalf("key create through %s: %v", c.Nodes[i].Name, err)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID == "" {
		t.Fatalf("key create through %s: no id in %q (%v)", c.Nodes[i].Name, out, err)
	}
	return r.ID
}

// getKey reads a key's material (hex) through node i with kmsctl.
func getKey(t *testing.T, c *harness.Cluster, i int, id string) (string, error) {
	t.Helper()
	out, err := c.Kmsctl(t, i, "key", "get", id, "-o", "json")
	if err != nil {
		return "", err
	}
	var r struct {
		ID          string `json:"id"`
		MaterialHex string `json:"material_hex"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", err
	}
	if r.ID != id || r.MaterialHex == "" {
		t.Fatalf("key get %s through %s: unexpected answer %q", id, c.Nodes[i].Name, out)
	}
	return r.MaterialHex, nil
}

// readEverywhere checks that every key in want reads back with the same
// material through each of the nodes.
func readEverywhere(t *testing.T, c *harness.Cluster, want map[string]string, nodes []int) {
	t.Helper()
	for id, material := range want {
		for _, i := range nodes {
			got, err := getKey(t, c, i, id)
			if err != nil {
				t.Errorf("acknowledged key %s is not readable through %s: %v", id, c.Nodes[i].Name, err)
				continue
			}
			if material != "" && got != material {
				t.Errorf("key %s through %s has material %s, want %s", id, c.Nodes[i].Name, got, material)
			}
		}
	}
}

// TestClusterJoinAndReadEverywhere: a bootstrapped node and two that join
// it with `kmsctl cluster join` (the second through a follower) form a
// three-voter cluster; a key created through any node reads back through
// every node, and the replicas end up with the same store.
func TestClusterJoinAndReadEverywhere(t *testing.T) {
	c := harness.StartCluster(t, 3)
	// A node that has not joined holds no keys and serves no KMIP.
	if _, err := c.Kmsctl(t, 1, "key", "create", "--alg", "AES", "--length", "128"); err == nil || !strings.Contains(err.Error(), "not joined") {
		t.Errorf("key create on a node that has not joined: %v", err)
	}
	if _, err := c.AdminCtl(t, 1, "cluster", "join", c.Nodes[0].AdminAddr); err == nil || !strings.Contains(err.Error(), "join token") {
		t.Errorf("join without a token: %v", err)
	}
	if _, err := c.AdminCtl(t, 1, "cluster", "join", c.Nodes[0].AdminAddr, "--token", c.JoinToken(t, 0)); err != nil {
		t.Fatal(err)
	}
	// Any member will do: node-2 hands the request to the leader.
	if _, err := c.AdminCtl(t, 2, "cluster", "join", c.Nodes[1].AdminAddr, "--token", c.JoinToken(t, 1)); err != nil {
		t.Fatal(err)
	}
	c.WaitVoters(t, 3)

	keys := map[string]string{}
	for i := range c.Nodes {
		keys[createKey(t, c, i)] = ""
	}
	// The first read fixes the material; every other node must agree.
	for id := range keys {
		m, err := getKey(t, c, 0, id)
		if err != nil {
			t.Fatalf("key %s through %s: %v", id, c.Nodes[0].Name, err)
		}
		keys[id] = m
	}
	readEverywhere(t, c, keys, []int{0, 1, 2})
	c.WaitDigestsEqual(t)
}

// dialKMIP opens a new ovh/kmip-go client connection to node i.
func dialKMIP(ctx context.Context, c *harness.Cluster, i int) (*kmipclient.Client, error) {
	return kmipclient.DialContext(ctx, c.Nodes[i].KMIPAddr,
		kmipclient.WithRootCAFile(c.PKI.CA),
		kmipclient.WithClientCertFiles(c.PKI.ClientCert, c.PKI.ClientKey))
}

// TestClusterReadYourWritesAcrossNodes: a key created through a follower
// is found at once through another node, each on a new connection. The
// design promises this to load-balanced clients: a node that would answer
// Item Not Found first catches up with the leader.
func TestClusterReadYourWritesAcrossNodes(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart())
	leader := c.Leader(t)
	followers := c.Followers(leader)
	writer := followers[0]
	readers := []int{followers[1], leader}

	// A round through a follower takes tens of milliseconds (the follower
	// waits for the commit to reach it); the deadline keeps the test under
	// a minute on a slow machine.
	const iterations = 200
	deadline := time.Now().Add(40 * time.Second)
	done := 0
	for ; done < iterations && time.Now().Before(deadline); done++ {
		reader := readers[done%len(readers)]
		id := createOnNewConn(t, c, writer)
		getOnNewConn(t, c, reader, id, done)
	}
	t.Logf("%d create-then-get rounds (create through %s, get through %s and %s)",
		done, c.Nodes[writer].Name, c.Nodes[readers[0]].Name, c.Nodes[readers[1]].Name)
	if done < 50 {
		t.Fatalf("only %d rounds in 40s: too slow to say anything", done)
	}
}

func createOnNewConn(t *testing.T, c *harness.Cluster, i int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := dialKMIP(ctx, c, i)
	if err != nil {
		t.Fatalf("dial %s: %v", c.Nodes[i].Name, err)
	}
	defer func() { _ = cl.Close() }()
	resp, err := cl.Create().AES(256, kmip.CryptographicUsageEncrypt).ExecContext(ctx)
	if err != nil {
		t.Fatalf("create through %s: %v", c.Nodes[i].Name, err)
	}
	return resp.UniqueIdentifier
}

func getOnNewConn(t *testing.T, c *harness.Cluster, i int, id string, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := dialKMIP(ctx, c, i)
	if err != nil {
		t.Fatalf("dial %s: %v", c.Nodes[i].Name, err)
	}
	defer func() { _ = cl.Close() }()
	resp, err := cl.Get(id).ExecContext(ctx)
	if err != nil {
		t.Fatalf("round %d: key %s, acknowledged by the writer, read through %s: %v", round, id, c.Nodes[i].Name, err)
	}
	if resp.UniqueIdentifier != id || resp.ObjectType != kmip.ObjectTypeSymmetricKey {
		t.Fatalf("round %d: Get %s through %s returned %s of type %v", round, id, c.Nodes[i].Name, resp.UniqueIdentifier, resp.ObjectType)
	}
}

// TestClusterSnapshotRestore moves a cluster's state into a new cluster
// with `snapshot save` and `snapshot restore`.
//
// The procedure (disaster recovery): a snapshot holds the keyring sealed
// under the source cluster's root key, and key material bound to its
// cluster id. The new cluster must have the same root key, so the source
// node's seal record (seal.json, and unseal.key for the file seal) is
// copied into the new node-1's data folder before its first start; nodes
// that join node-1 receive the root key with their join token. Then the
// snapshot is restored through any node (kmsctl hands it to the leader).
func TestClusterSnapshotRestore(t *testing.T) {
	a := harness.StartCluster(t, 3, harness.JoinAtStart(), harness.WithName("a"))
	client := a.Nodes[0].Client(t)
	ids, _ := populate(t, client, 20) // 20 keys in four states, 10 secrets
	before := observe(t, client, ids) // serves every key: Fresh is cleared now
	digestA := a.WaitDigestsEqual(t)

	follower := a.Followers(a.Leader(t))[0]
	file := filepath.Join(t.TempDir(), "a.snapshot")
	if _, err := a.AdminCtl(t, follower, "snapshot", "save", file); err != nil {
		t.Fatal(err)
	}
	if d := a.WaitDigestsEqual(t); d != digestA {
		t.Fatalf("cluster A changed while the snapshot was taken: digest %s, then %s", digestA, d)
	}
	for _, n := range a.Nodes {
		n.Stop()
	}

	// The same CAs: the objects belong to the tenant of the client's
	// identity, which names the CA that issued its certificate.
	b := harness.StartCluster(t, 3, harness.JoinAtStart(), harness.WithName("b"),
		harness.WithSealFrom(a.Nodes[0].Dir), harness.WithPKI(a.PKI))
	if _, err := b.AdminCtl(t, 1, "snapshot", "restore", file); err != nil {
		t.Fatal(err)
	}
	if d := b.WaitDigestsEqual(t); d != digestA {
		t.Errorf("cluster B's digest after restore is %s, cluster A's was %s", d, digestA)
	}
	for i, n := range b.Nodes {
		after := observe(t, n.Client(t), ids)
		for _, id := range ids {
			bo, ao := before[id], after[id]
			if !bytes.Equal(bo.material, ao.material) {
				t.Errorf("%s through b/%s: key material differs from cluster A's", id, b.ID(i))
			}
			if !reflect.DeepEqual(bo.attrs, ao.attrs) {
				t.Errorf("%s through b/%s: attributes differ from cluster A's:\nA %v\nB %v", id, b.ID(i), bo.attrs, ao.attrs)
			}
		}
	}
}
