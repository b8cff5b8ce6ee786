package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

var _ cluster.KeyringState = (*fsm.FSM)(nil)

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createKeys stores n symmetric keys through the given nodes in turn, each
// sealed by the proposing node's barrier, and returns their material.
func createKeys(t *testing.T, nodes []*clustertest.Node, prefix string, n int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for i := range n {
		node := nodes[i%len(nodes)]
		id, owner := fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("tenant-%d", i%2)
		material := make([]byte, 32)
		_, _ = rand.Read(material)
		sealed, err := node.Barrier.SealObject(seal.Binding{ID: id, Owner: owner}, material)
		if err != nil {
			t.Fatal(err)
		}
		obj := &kmsdpb.StoredObject{Id: id, SealedMaterial: sealed, Attributes: [][]byte{
			fsm.EncodeAttribute(kmip.Attribute{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeSymmetricKey}),
		}}
		entry, err := fsm.Encode(kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, clustertest.Envelope(owner), &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{obj}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := node.Node.Apply(timeout(t), entry)
		if err == nil {
			err = node.FSM.Outcome(res)
		}
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		out[id] = material
	}
	return out
}

// openAll reads every object of st through b: id -> plaintext and id ->
// the data key version its blob names.
func openAll(t *testing.T, st *fsm.FSM, b *seal.Barrier) (map[string][]byte, map[string]uint32) {
	t.Helper()
	plain, versions := map[string][]byte{}, map[string]uint32{}
	for after := ""; ; {
		page, err := st.SealedObjects(after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return plain, versions
		}
		for _, o := range page {
			after = o.ID
			pt, err := b.OpenObject(seal.Binding{ID: o.ID, Owner: o.Owner}, o.Material)
			if err != nil {
				t.Fatalf("open %s: %v", o.ID, err)
			}
			plain[o.ID] = pt
			versions[o.ID], _ = seal.BlobVersion(o.Material)
		}
	}
}

// checkEveryNode reads every object on every running node after a read
// barrier: the same plaintext as created, each sealed under version.
func checkEveryNode(t *testing.T, c *clustertest.Cluster, want map[string][]byte, version uint32) {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Down() {
			continue
		}
		if err := n.Node.ReadBarrier(timeout(t)); err != nil {
			t.Fatal(err)
		}
		plain, versions := openAll(t, n.FSM, n.Barrier)
		if len(plain) != len(want) {
			t.Fatalf("%s holds %d objects, want %d", n.ID, len(plain), len(want))
		}
		for id, m := range want {
			if !bytes.Equal(plain[id], m) {
				t.Errorf("%s: %s has other material", n.ID, id)
			}
			if versions[id] != version {
				t.Errorf("%s: %s sealed under version %d, want %d", n.ID, id, versions[id], version)
			}
		}
	}
}

// TestKeyringRotateRewrapRetire is the whole life of a data key on a
// three-node cluster with the real state machine: rotate, rewrap, retire
// (which replaces the root key), a node that was down meanwhile catching
// up, and what is left of the retired key on disk.
func TestKeyringRotateRewrapRetire(t *testing.T) {
	c := clustertest.NewFSM(t)
	c.Start()
	c.Start()
	c.Start()
	c.WaitVoters(3)
	want := createKeys(t, c.Nodes, "key", 20)
	checkEveryNode(t, c, want, 1)

	// What an attacker could have copied before the retire: a snapshot,
	// and (for the positive controls) a node's seal record of that time.
	leader := c.Leader()
	if err := leader.Node.ReadBarrier(timeout(t)); err != nil {
		t.Fatal(err)
	}
	var oldSnap bytes.Buffer
	if err := leader.FSM.Snapshot().Persist(&oldSnap); err != nil {
		t.Fatal(err)
	}
	oldSealDir := t.TempDir()
	for _, f := range []string{"seal.json", "unseal.key"} {
		data, err := os.ReadFile(filepath.Join(c.Nodes[0].Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(oldSealDir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.Node.TakeSnapshot(); err != nil {
			t.Fatalf("%s: snapshot: %v", n.ID, err)
		}
	}

	// Rotate through a follower, then rewrap everything in small batches.
	if v, err := c.Follower().Node.RotateKey(timeout(t), "operator"); err != nil || v != 2 {
		t.Fatalf("RotateKey = %d, %v", v, err)
	}
	var reports []cluster.RewrapProgress
	p, err := c.Follower().Node.Rewrap(timeout(t), 7, func(p cluster.RewrapProgress) { reports = append(reports, p) })
	if err != nil {
		t.Fatal(err)
	}
	if want := (cluster.RewrapProgress{Version: 2, Total: 20, Rewrapped: 20, Done: true}); p != want {
		t.Errorf("Rewrap = %+v, want %+v", p, want)
	}
	if len(reports) != 4 || reports[0].Rewrapped != 7 || reports[0].Done || !reports[3].Done {
		t.Errorf("progress reports %+v, want one per batch of 7 and a final one", reports)
	}
	checkEveryNode(t, c, want, 2)
	if p, err := leader.Node.Rewrap(timeout(t), 0, nil); err != nil || p.Current != 20 || p.Rewrapped != 0 {
		t.Errorf("second rewrap = %+v, %v; want everything current", p, err)
	}

	// Rotate again and stop a rewrap after its first batch: it resumes.
	if v, err := leader.Node.RotateKey(timeout(t), "operator"); err != nil || v != 3 {
		t.Fatalf("RotateKey = %d, %v", v, err)
	}
	ctx, cancel := context.WithCancel(timeout(t))
	p, err = leader.Node.Rewrap(ctx, 5, func(cluster.RewrapProgress) { cancel() })
	if !errors.Is(err, context.Canceled) || p.Rewrapped != 5 || p.Done {
		t.Fatalf("cancelled rewrap = %+v, %v", p, err)
	}

	// Retire refuses the newest, an unknown version and one in use.
	f := c.Follower()
	if err := f.Node.RetireKey(timeout(t), 3, "operator"); !errors.Is(err, cluster.ErrKeyInUse) || !strings.Contains(err.Error(), "newest") {
		t.Errorf("retire the newest: %v", err)
	}
	if err := f.Node.RetireKey(timeout(t), 9, "operator"); !errors.Is(err, cluster.ErrUnknownKeyVersion) {
		t.Errorf("retire an unknown version: %v", err)
	}
	if err := f.Node.RetireKey(timeout(t), 2, "operator"); !errors.Is(err, cluster.ErrKeyInUse) || !strings.Contains(err.Error(), "kmsctl operator rewrap") {
		t.Errorf("retire a version that seals 15 objects: %v", err)
	}
	if p, err := f.Node.Rewrap(timeout(t), 0, nil); err != nil || p.Current != 5 || p.Rewrapped != 15 || !p.Done {
		t.Fatalf("resumed rewrap = %+v, %v", p, err)
	}

	// A node is down for both retires; each replaces the root key.
	down := c.Nodes[2]
	if down == c.Leader() {
		down = c.Nodes[1]
	}
	down.Stop()
	for _, v := range []uint32{1, 2} {
		if err := c.Leader().Node.RetireKey(timeout(t), v, "operator"); err != nil {
			t.Fatalf("retire %d: %v", v, err)
		}
	}
	versions, _, err := c.Leader().Node.Keyring(timeout(t))
	if err != nil || len(versions) != 1 || versions[0].Version != 3 || !versions[0].Latest || versions[0].Objects != 20 {
		t.Fatalf("Keyring after the retires = %+v, %v", versions, err)
	}
	down.Restart(t)
	c.WaitVoters(3)
	checkEveryNode(t, c, want, 3)

	// (b) Every node's seal.json protects the new root: a barrier
	// unsealed from it alone opens the current objects.
	for _, n := range c.Nodes {
		waitRecordEpoch(t, n, 2)
		fresh := seal.NewBarrier(n.FSM)
		if err := fresh.UnsealFile(n.Dir); err != nil {
			t.Fatalf("%s: unseal from the rewritten seal.json: %v", n.ID, err)
		}
		if plain, _ := openAll(t, n.FSM, fresh); len(plain) != len(want) {
			t.Errorf("%s: %d objects open from seal.json", n.ID, len(plain))
		}
		fresh.Seal()
	}

	// (a) The snapshot taken before the retires opens no more.
	old := fsm.New(fsm.Config{})
	if err := old.Restore(bytes.NewReader(oldSnap.Bytes())); err != nil {
		t.Fatal(err)
	}
	now := seal.NewBarrier(old)
	if err := now.UnsealFile(c.Nodes[0].Dir); err != nil {
		t.Fatal(err)
	}
	oldRoot := seal.NewBarrier(old)
	if err := oldRoot.UnsealFile(oldSealDir); err != nil {
		t.Fatal(err)
	}
	oldKeys, err := old.DataKeys()
	if err != nil || len(oldKeys) != 1 {
		t.Fatalf("old snapshot keyring %v %v", oldKeys, err)
	}
	for _, k := range oldKeys {
		if err := now.CheckDataKey(k.Version, k.Sealed); !errors.Is(err, seal.ErrBadDataKey) {
			t.Errorf("the old snapshot's data key %d under the current root: %v", k.Version, err)
		}
		if err := oldRoot.CheckDataKey(k.Version, k.Sealed); err != nil {
			t.Errorf("control: the old root does not open the old snapshot: %v", err)
		}
	}
	for id := range want {
		o, _ := old.Get(id)
		if _, err := now.OpenObject(seal.Binding{ID: id, Owner: o.Owner}, o.Material); !errors.Is(err, seal.ErrBadDataKey) {
			t.Fatalf("%s from the old snapshot under the current root: %v", id, err)
		}
	}

	// (c) No sealed data key left in raft.db or the snapshot files opens
	// under the current root, except the current keyring's own.
	current, _ := c.Leader().FSM.DataKeys()
	for _, n := range c.Nodes {
		candidates := sealedKeysIn(t, filepath.Join(n.Dir, "raft"))
		foundOld := false
		for _, cand := range candidates {
			for v := uint32(1); v <= 3; v++ {
				if oldRoot.CheckDataKey(v, cand) == nil {
					foundOld = true
				}
				if n.Barrier.CheckDataKey(v, cand) == nil && (v != 3 || !bytes.Equal(cand, current[0].Sealed)) {
					t.Errorf("%s: a sealed data key %d on disk opens under the current root", n.ID, v)
				}
			}
		}
		if !foundOld {
			t.Errorf("%s: control: no copy of the old keyring found among %d candidates", n.ID, len(candidates))
		}
	}
}

// waitRecordEpoch waits until n's seal.json names root epoch epoch.
func waitRecordEpoch(t *testing.T, n *clustertest.Node, epoch uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := seal.ReadRecord(n.Dir)
		if err == nil && rec.RootEpoch == epoch {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				t.Fatalf("%s: seal.json at root epoch %d, want %d", n.ID, rec.RootEpoch, epoch)
			}
			t.Fatalf("%s: seal.json: %v", n.ID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sealedKeysIn returns every byte string in the files under dir that looks
// like a sealed data key as the keyring stores it: a protobuf field 2 of
// 61 bytes (DataKey.sealed) starting with format byte 0x01.
func sealedKeysIn(t *testing.T, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i := 2; i+61 <= len(data); i++ {
			if data[i-2] == 0x12 && data[i-1] == 61 && data[i] == 0x01 {
				out = append(out, bytes.Clone(data[i:i+61]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// staleKeyring reports the keyring one version behind, as a node that read
// it just before another rotation landed.
type staleKeyring struct{ *fsm.FSM }

func (s staleKeyring) LatestDataKey() (uint32, []byte, bool) {
	v, k, ok := s.FSM.LatestDataKey()
	if v > 1 {
		v--
		k, _ = s.FSM.DataKey(v)
	}
	return v, k, ok
}

// TestRotateLosesRace: a rotation that another one beat is refused with a
// clear error; rotations racing on every node all either land or say so.
func TestRotateLosesRace(t *testing.T) {
	c := clustertest.NewFSM(t)
	n := c.Start(func(cfg *cluster.Config) { cfg.Keyring = staleKeyring{cfg.Keyring.(*fsm.FSM)} })
	if v, err := n.Node.RotateKey(timeout(t), "op"); err != nil || v != 2 {
		t.Fatalf("first rotation: %d %v", v, err)
	}
	_, err := n.Node.RotateKey(timeout(t), "op")
	if !errors.Is(err, cluster.ErrKeyringChanged) || !errors.Is(err, fsm.ErrConflict) {
		t.Fatalf("a rotation beaten by another: %v, want ErrKeyringChanged wrapping fsm.ErrConflict", err)
	}

	c = clustertest.NewFSM(t)
	c.Start()
	c.Start()
	c.Start()
	c.WaitVoters(3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	landed := map[uint32]bool{}
	for i := range 9 {
		wg.Go(func() {
			v, err := c.Nodes[i%3].Node.RotateKey(timeout(t), "op")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if landed[v] {
					t.Errorf("version %d reported twice", v)
				}
				landed[v] = true
			case !errors.Is(err, cluster.ErrKeyringChanged):
				t.Errorf("racing rotation: %v", err)
			}
		})
	}
	wg.Wait()
	versions, _, err := c.Leader().Node.Keyring(timeout(t))
	if err != nil || len(versions) != 1+len(landed) {
		t.Errorf("keyring %+v after %d rotations landed: %v", versions, len(landed), err)
	}
}

func TestNoKeyring(t *testing.T) {
	c := clustertest.New(t)
	n := c.Start()
	c.Leader()
	if _, err := n.Node.RotateKey(timeout(t), "op"); !errors.Is(err, cluster.ErrNoKeyring) {
		t.Errorf("RotateKey without a keyring: %v", err)
	}
	if _, err := n.Node.Rewrap(timeout(t), 0, nil); !errors.Is(err, cluster.ErrNoKeyring) {
		t.Errorf("Rewrap without a keyring: %v", err)
	}
	if err := n.Node.RetireKey(timeout(t), 1, "op"); !errors.Is(err, cluster.ErrNoKeyring) {
		t.Errorf("RetireKey without a keyring: %v", err)
	}
	if _, _, err := n.Node.Keyring(timeout(t)); !errors.Is(err, cluster.ErrNoKeyring) {
		t.Errorf("Keyring without a keyring: %v", err)
	}
}
