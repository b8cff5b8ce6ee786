package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// inspectJSON is the part of `kmsctl snapshot inspect -o json` these tests
// read.
type inspectJSON struct {
	ClusterID    string `json:"cluster_id"`
	Index        uint64 `json:"index"`
	MACValid     bool   `json:"mac_valid"`
	SameCluster  bool   `json:"same_cluster"`
	CurrentIndex uint64 `json:"current_index"`
	Accepted     bool   `json:"restore_accepted"`
	Refusal      string `json:"refusal"`
}

func inspectSnapshot(t *testing.T, c *harness.Cluster, file string) inspectJSON {
	t.Helper()
	out, err := c.AdminCtl(t, 0, "-o", "json", "snapshot", "inspect", file)
	if err != nil {
		t.Fatalf("snapshot inspect: %v", err)
	}
	var r inspectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("snapshot inspect: %v in %q", err, out)
	}
	return r
}

// refused runs `kmsctl snapshot restore` and expects it to fail with want
// on stderr, leaving the cluster's state as it was.
func refused(t *testing.T, c *harness.Cluster, want string, args ...string) {
	t.Helper()
	before := c.WaitDigestsEqual(t)
	_, err := c.AdminCtl(t, 0, append([]string{"snapshot", "restore"}, args...)...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("snapshot restore %v = %v, want a refusal containing %q", args, err, want)
	}
	if d := c.WaitDigestsEqual(t); d != before {
		t.Errorf("a refused restore changed the state: digest %s, then %s", before, d)
	}
}

// TestSnapshotTrust: through kmsctl against real nodes, a snapshot of
// another cluster, a damaged one and an older one are refused with reasons
// that say what to do; the older one restores with --force.
func TestSnapshotTrust(t *testing.T) {
	a := harness.StartCluster(t, 1, harness.WithName("a"))
	a.Leader(t)
	createKey(t, a, 0)
	saved := a.WaitDigestsEqual(t)
	file := filepath.Join(t.TempDir(), "a.snapshot")
	if _, err := a.AdminCtl(t, 0, "snapshot", "save", file); err != nil {
		t.Fatal(err)
	}
	own := inspectSnapshot(t, a, file)
	if !own.SameCluster || !own.MACValid || !own.Accepted || own.ClusterID == "" {
		t.Fatalf("inspect a fresh snapshot of the same cluster = %+v", own)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("foreign", func(t *testing.T) {
		b := harness.StartCluster(t, 1, harness.WithName("b"))
		b.Leader(t)
		createKey(t, b, 0)
		r := inspectSnapshot(t, b, file)
		if r.SameCluster || r.MACValid || r.Accepted || !strings.Contains(r.Refusal, "belongs to cluster "+own.ClusterID) {
			t.Errorf("inspect in another cluster = %+v", r)
		}
		refused(t, b, "the snapshot belongs to cluster "+own.ClusterID+", and this is cluster ", file)
		refused(t, b, "seal record and unseal key", "--force", file)
	})

	t.Run("tampered", func(t *testing.T) {
		damaged := func(name string, edit func([]byte) []byte) string {
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, edit(append([]byte(nil), data...)), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		// The header's index is at bytes 49..56 for a 32-character id.
		header := damaged("header", func(b []byte) []byte { b[56] ^= 1; return b })
		body := damaged("body", func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		cut := damaged("cut", func(b []byte) []byte { return b[:len(b)-100] })
		for _, f := range []string{header, body} {
			if r := inspectSnapshot(t, a, f); r.MACValid || r.Accepted || !strings.Contains(r.Refusal, "MAC does not verify") {
				t.Errorf("inspect %s = %+v", filepath.Base(f), r)
			}
			refused(t, a, "its MAC does not verify under this cluster's root key; use an intact copy", "--force", f)
		}
		refused(t, a, "truncated or damaged", cut)
		garbage := damaged("garbage", func([]byte) []byte { return []byte("not a snapshot") })
		refused(t, a, "not a kmsd snapshot file", garbage)
	})

	t.Run("older", func(t *testing.T) {
		createKey(t, a, 0)
		r := inspectSnapshot(t, a, file)
		if !r.SameCluster || !r.MACValid || r.Accepted || r.CurrentIndex <= r.Index || !strings.Contains(r.Refusal, "Add --force") {
			t.Errorf("inspect an older snapshot = %+v", r)
		}
		refused(t, a, "the snapshot is older than the cluster's state", file)
		if _, err := a.AdminCtl(t, 0, "snapshot", "restore", "--force", file); err != nil {
			t.Fatalf("forced restore: %v", err)
		}
		if d := a.WaitDigestsEqual(t); d != saved {
			t.Errorf("after the forced restore the digest is %s, the snapshot's was %s", d, saved)
		}
	})
}
