package e2e_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/e2e/harness"
)

type keyringView struct {
	Versions []struct {
		Version uint32 `json:"version"`
		Objects int64  `json:"objects"`
		Newest  bool   `json:"newest"`
	} `json:"versions"`
}

// keyringOf runs `kmsctl operator keyring -o json` through node i.
func keyringOf(t *testing.T, c *harness.Cluster, i int) keyringView {
	t.Helper()
	out, err := c.AdminCtl(t, i, "-o", "json", "operator", "keyring")
	if err != nil {
		t.Fatal(err)
	}
	var k keyringView
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("keyring -o json: %v\n%s", err, out)
	}
	return k
}

// waitSealEpoch waits until node i's seal.json protects the root key of
// epoch.
func waitSealEpoch(t *testing.T, c *harness.Cluster, i int, epoch uint64) {
	t.Helper()
	deadline := time.Now().Add(harness.ClusterTimeout)
	for {
		rec, err := seal.ReadRecord(c.Nodes[i].Dir)
		if err == nil && rec.RootEpoch == epoch {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: seal.json does not reach root epoch %d (%v)", c.Nodes[i].Name, epoch, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKeyringRotateRewrapRetire: on three real nodes, rotate the data key,
// rewrap every object, retire version 1 (which replaces the root key on
// every node): every key reads the same through every node, every seal.json
// protects the new root key, and a node restarted afterwards unseals from
// it (file seal) and serves.
func TestKeyringRotateRewrapRetire(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart())
	want := map[string]string{}
	for i := range 6 {
		id := createKey(t, c, i%3)
		material, err := getKey(t, c, i%3, id)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = material
	}
	if k := keyringOf(t, c, 0); len(k.Versions) != 1 || k.Versions[0].Version != 1 || k.Versions[0].Objects != 6 || !k.Versions[0].Newest {
		t.Fatalf("keyring before the rotation: %+v", k)
	}

	out, err := c.AdminCtl(t, 1, "-o", "json", "operator", "rotate")
	if err != nil {
		t.Fatal(err)
	}
	var rot struct{ Version uint32 }
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.Version != 2 {
		t.Fatalf("rotate: %q %v", out, err)
	}
	if _, err := c.AdminCtl(t, 0, "operator", "retire", "1"); err == nil {
		t.Fatal("retire of a version that still seals objects succeeded")
	}

	out, err = c.AdminCtl(t, 2, "-o", "json", "operator", "rewrap", "--batch", "4")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Version                            uint32
		Total, Current, Rewrapped, Skipped int64
		Done                               bool
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Version != 2 || p.Total != 6 || p.Rewrapped != 6 || p.Skipped != 0 || !p.Done {
		t.Fatalf("rewrap: %q %v", out, err)
	}
	k := keyringOf(t, c, 0)
	if len(k.Versions) != 2 || k.Versions[0].Objects != 0 || k.Versions[1].Objects != 6 || !k.Versions[1].Newest {
		t.Fatalf("keyring after the rewrap: %+v", k)
	}

	if _, err := c.AdminCtl(t, c.Followers(c.Leader(t))[0], "operator", "retire", "1"); err != nil {
		t.Fatal(err)
	}
	if k := keyringOf(t, c, 1); len(k.Versions) != 1 || k.Versions[0].Version != 2 || k.Versions[0].Objects != 6 {
		t.Fatalf("keyring after the retire: %+v", k)
	}
	readEverywhere(t, c, want, c.Running())
	for i := range c.Nodes {
		waitSealEpoch(t, c, i, 1)
	}

	// A node restarted now unseals with the new root key and serves.
	restarted := c.Followers(c.Leader(t))[0]
	c.Nodes[restarted].Stop()
	c.Nodes[restarted].Restart(t)
	readEverywhere(t, c, want, []int{restarted})
	id := createKey(t, c, restarted)
	if _, err := getKey(t, c, (restarted+1)%3, id); err != nil {
		t.Fatalf("a key created through the restarted node: %v", err)
	}
	c.WaitDigestsEqual(t)
}
