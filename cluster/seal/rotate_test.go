package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// rotSource is the replicated keyring with a root transition, as the state
// machine keeps them.
type rotSource struct {
	*fakeSource
	tmu     sync.Mutex
	epoch   uint64
	wrapped []byte
}

func newRotSource() *rotSource { return &rotSource{fakeSource: newFakeSource()} }

func (s *rotSource) RootTransition() (uint64, []byte) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return s.epoch, slices.Clone(s.wrapped)
}

// apply installs a rotation as the state machine does: the keyring becomes
// rot.Keys and the transition rot's.
func (s *rotSource) apply(rot RootRotation) {
	s.mu.Lock()
	s.keys = map[uint32][]byte{}
	for _, k := range rot.Keys {
		s.keys[k.Version] = slices.Clone(k.Sealed)
	}
	s.mu.Unlock()
	s.tmu.Lock()
	s.epoch, s.wrapped = rot.Epoch, slices.Clone(rot.Wrapped)
	s.tmu.Unlock()
}

// rotCluster is an initialized barrier over a rotSource with data keys 1
// and 2 and one object sealed under each.
type rotCluster struct {
	b      *Barrier
	src    *rotSource
	dir    string
	blobs  map[uint32][]byte // object sealed under each version
	secret []byte
}

var rotBinding = Binding{ID: "obj-1", Owner: "alice"}

func newRotCluster(t *testing.T, opts InitOptions) (*rotCluster, []string) {
	t.Helper()
	c := &rotCluster{src: newRotSource(), dir: t.TempDir(), blobs: map[uint32][]byte{}, secret: []byte("the key material")}
	c.b = NewBarrier(c.src)
	shares, err := c.b.Init(c.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint32{1, 2} {
		sealed, err := c.b.NewDataKey(v)
		if err != nil {
			t.Fatal(err)
		}
		c.src.put(v, sealed)
		if c.blobs[v], err = c.b.SealObject(rotBinding, c.secret); err != nil {
			t.Fatal(err)
		}
	}
	return c, shares
}

// prepare makes a rotation to epoch keeping versions keep.
func (c *rotCluster) prepare(t *testing.T, epoch uint64, keep ...uint32) RootRotation {
	t.Helper()
	var keys []SealedDataKey
	for _, v := range keep {
		s, ok := c.src.DataKey(v)
		if !ok {
			t.Fatalf("no data key %d", v)
		}
		keys = append(keys, SealedDataKey{Version: v, Sealed: s})
	}
	rot, err := c.b.PrepareRootRotation(epoch, keys)
	if err != nil {
		t.Fatal(err)
	}
	return rot
}

// rotate prepares a rotation and applies it through c.b.FollowRoot.
func (c *rotCluster) rotate(t *testing.T, epoch uint64, keep ...uint32) RootRotation {
	t.Helper()
	rot := c.prepare(t, epoch, keep...)
	moved, err := c.b.FollowRoot(c.src, func() { c.src.apply(rot) })
	if err != nil || !moved {
		t.Fatalf("FollowRoot after rotation to epoch %d: moved %v, %v", epoch, moved, err)
	}
	return rot
}

func (c *rotCluster) wantOpens(t *testing.T, b *Barrier, version uint32) {
	t.Helper()
	pt, err := b.OpenObject(rotBinding, c.blobs[version])
	if err != nil || !bytes.Equal(pt, c.secret) {
		t.Fatalf("object under version %d: %q, %v", version, pt, err)
	}
}

func TestRootRotation(t *testing.T) {
	c, _ := newRotCluster(t, InitOptions{})
	// Another node: the same root key from a copy of the data folder.
	otherDir := t.TempDir()
	copyDir(t, c.dir, otherDir)
	other := NewBarrier(c.src)
	if err := other.UnsealFile(otherDir); err != nil {
		t.Fatal(err)
	}
	// A node that will miss two rotations.
	late := NewBarrier(c.src)
	if err := late.UnsealFile(otherDir); err != nil {
		t.Fatal(err)
	}
	oldRoot := rootKey(t, c.b)
	c.b.mu.RLock()
	held := c.b.root // the slice the barrier zeroes when it lets go
	c.b.mu.RUnlock()
	oldSealed, _ := c.src.DataKey(2)

	rot := c.rotate(t, 1, 2) // retire version 1
	if len(rot.Wrapped) != transitionSize || len(rot.Keys) != 1 || rot.Keys[0].Version != 2 {
		t.Fatalf("rotation %+v", rot)
	}
	if bytes.Equal(rootKey(t, c.b), oldRoot) {
		t.Fatal("the root key did not change")
	}
	if !bytes.Equal(held, make([]byte, keySize)) {
		t.Error("the old root key was not zeroed")
	}
	if c.b.RootEpoch() != 1 {
		t.Errorf("RootEpoch %d, want 1", c.b.RootEpoch())
	}
	c.wantOpens(t, c.b, 2)
	if _, err := c.b.OpenObject(rotBinding, c.blobs[1]); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Errorf("object under the retired version: %v, want ErrUnknownKeyVersion", err)
	}
	if err := c.b.CheckDataKey(2, oldSealed); !errors.Is(err, ErrBadDataKey) {
		t.Errorf("a keyring copy from before the rotation opens under the new root: %v", err)
	}
	if err := c.b.CheckDataKey(2, rot.Keys[0].Sealed); err != nil {
		t.Errorf("the new keyring: %v", err)
	}
	for _, k := range rot.Keys {
		assertNotIn(t, "rotation", append(slices.Clone(rot.Wrapped), k.Sealed...), oldRoot)
	}

	// The proposer moved with the state; following again changes nothing.
	if moved, err := c.b.FollowRoot(c.src, nil); moved || err != nil {
		t.Errorf("FollowRoot again: moved %v, %v", moved, err)
	}
	// Another node follows the same transition to the same root key.
	if _, err := other.OpenObject(rotBinding, c.blobs[2]); !errors.Is(err, ErrBadDataKey) {
		t.Errorf("a node still on the old root opens the new keyring: %v", err)
	}
	if moved, err := other.FollowRoot(c.src, nil); !moved || err != nil {
		t.Fatalf("other node: moved %v, %v", moved, err)
	}
	if !bytes.Equal(rootKey(t, other), rootKey(t, c.b)) {
		t.Error("the other node holds another root key")
	}
	c.wantOpens(t, other, 2)

	// A second rotation: a node two epochs behind cannot follow.
	c.rotate(t, 2, 2)
	if moved, err := late.FollowRoot(c.src, nil); moved || !errors.Is(err, ErrRootMismatch) {
		t.Errorf("two epochs behind: moved %v, %v; want ErrRootMismatch", moved, err)
	}
	if !bytes.Equal(rootKey(t, late), oldRoot) {
		t.Error("a failed follow changed the root key")
	}
	if moved, err := other.FollowRoot(c.src, nil); !moved || err != nil || other.RootEpoch() != 2 {
		t.Errorf("one epoch behind: moved %v, %v, epoch %d", moved, err, other.RootEpoch())
	}
}

func TestRootTransitionIsBound(t *testing.T) {
	c, _ := newRotCluster(t, InitOptions{})
	dir := t.TempDir()
	copyDir(t, c.dir, dir)
	foreign, _ := newRotCluster(t, InitOptions{})
	rot := c.prepare(t, 1, 1, 2)
	flipped := slices.Clone(rot.Wrapped)
	flipped[len(flipped)-1] ^= 1
	for name, st := range map[string]RootRotation{
		"tampered":      {Epoch: 1, Wrapped: flipped, Keys: rot.Keys},
		"other epoch":   {Epoch: 2, Wrapped: rot.Wrapped, Keys: rot.Keys},
		"truncated":     {Epoch: 1, Wrapped: rot.Wrapped[:40], Keys: rot.Keys},
		"other cluster": foreign.prepare(t, 1, 1, 2),
	} {
		t.Run(name, func(t *testing.T) {
			b := NewBarrier(newRotSource())
			if err := b.UnsealFile(dir); err != nil {
				t.Fatal(err)
			}
			src := b.src.(*rotSource)
			moved, err := b.FollowRoot(src, func() { src.apply(st) })
			if moved || !errors.Is(err, ErrRootMismatch) {
				t.Fatalf("moved %v, %v; want ErrRootMismatch", moved, err)
			}
		})
	}
	t.Run("bad preparations", func(t *testing.T) {
		s1, _ := c.src.DataKey(1)
		s2, _ := c.src.DataKey(2)
		for name, keys := range map[string][]SealedDataKey{
			"none":       nil,
			"unordered":  {{2, s2}, {1, s1}},
			"version 0":  {{0, s1}},
			"wrong seal": {{1, s2}},
		} {
			if _, err := c.b.PrepareRootRotation(1, keys); err == nil {
				t.Errorf("%s: prepared", name)
			}
		}
		if _, err := c.b.PrepareRootRotation(0, []SealedDataKey{{1, s1}}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("epoch 0: %v", err)
		}
	})
	t.Run("sealed", func(t *testing.T) {
		b := NewBarrier(newRotSource())
		ran := false
		if _, err := b.FollowRoot(b.src.(*rotSource), func() { ran = true }); !errors.Is(err, ErrSealed) || !ran {
			t.Errorf("sealed barrier: %v, apply ran %v", err, ran)
		}
	})
}

// TestFollowRootUnderLoad opens and seals objects while the keyring and the
// root key change together: no operation may see one without the other.
func TestFollowRootUnderLoad(t *testing.T) {
	c, _ := newRotCluster(t, InitOptions{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				if pt, err := c.b.OpenObject(rotBinding, c.blobs[2]); err != nil || !bytes.Equal(pt, c.secret) {
					errs <- err
					return
				}
				if _, err := c.b.SealObject(rotBinding, c.secret); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for epoch := uint64(1); epoch <= 20; epoch++ {
		c.rotate(t, epoch, 2)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("operation during rotations: %v", err)
	}
}

// rewriteCase is one unseal method: how to unseal a fresh barrier from a
// data folder.
type rewriteCase struct {
	unseal func(t *testing.T, b *Barrier, dir string) error
}

func rewriteCases() map[string]func(t *testing.T) (*rotCluster, rewriteCase) {
	return map[string]func(t *testing.T) (*rotCluster, rewriteCase){
		"file": func(t *testing.T) (*rotCluster, rewriteCase) {
			c, _ := newRotCluster(t, InitOptions{})
			return c, rewriteCase{unseal: func(_ *testing.T, b *Barrier, dir string) error { return b.UnsealFile(dir) }}
		},
		"passphrase": func(t *testing.T) (*rotCluster, rewriteCase) {
			pass := []byte("correct horse battery")
			c, _ := newRotCluster(t, InitOptions{Method: MethodPassphrase, Passphrase: pass, Argon2: cheapArgon})
			return c, rewriteCase{unseal: func(_ *testing.T, b *Barrier, dir string) error { return b.UnsealPassphrase(dir, pass) }}
		},
		"shamir": func(t *testing.T) (*rotCluster, rewriteCase) {
			c, shares := newRotCluster(t, InitOptions{Method: MethodShamir, Shares: 3, Threshold: 2})
			return c, rewriteCase{unseal: func(t *testing.T, b *Barrier, dir string) error {
				rec, err := ReadRecord(dir)
				if err != nil {
					return err
				}
				for _, s := range shares[1:] {
					if _, err := b.SubmitShare(rec, s); err != nil {
						return err
					}
				}
				return nil
			}}
		},
	}
}

// TestRewriteRecord moves the root key and writes seal.json again under
// each method: the same passphrase, shares or unseal.key then unseal the new
// root key, and the old record opened no more keyring.
func TestRewriteRecord(t *testing.T) {
	for name, setup := range rewriteCases() {
		t.Run(name, func(t *testing.T) { testRewrite(t, setup) })
	}
}

func testRewrite(t *testing.T, setup func(t *testing.T) (*rotCluster, rewriteCase)) {
	c, m := setup(t)
	before, err := os.ReadFile(filepath.Join(c.dir, recordFile))
	if err != nil {
		t.Fatal(err)
	}
	oldDir := t.TempDir()
	copyDir(t, c.dir, oldDir)
	oldRoot := rootKey(t, c.b)
	if written, err := c.b.RewriteRecord(c.dir); written || err != nil {
		t.Fatalf("nothing to rewrite: %v %v", written, err)
	}
	c.rotate(t, 1, 2)
	if written, err := c.b.RewriteRecord(c.dir); !written || err != nil {
		t.Fatalf("RewriteRecord: %v %v", written, err)
	}
	if written, err := c.b.RewriteRecord(c.dir); written || err != nil {
		t.Fatalf("RewriteRecord twice: %v %v", written, err)
	}
	rec, err := ReadRecord(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RootEpoch != 1 {
		t.Errorf("root_epoch %d, want 1", rec.RootEpoch)
	}
	after, _ := os.ReadFile(filepath.Join(c.dir, recordFile))
	if bytes.Equal(before, after) {
		t.Fatal("seal.json unchanged")
	}
	checkRecordFile(t, c.dir, map[string][]byte{"new root": rootKey(t, c.b), "old root": oldRoot})
	if got, _ := c.b.Record(); !bytes.Equal(got, after) {
		t.Error("Record() is not the rewritten seal.json")
	}

	fresh := NewBarrier(c.src)
	if err := m.unseal(t, fresh, c.dir); err != nil {
		t.Fatalf("unseal from the rewritten record: %v", err)
	}
	if !bytes.Equal(rootKey(t, fresh), rootKey(t, c.b)) || fresh.RootEpoch() != 1 {
		t.Fatal("the rewritten record holds another root key")
	}
	c.wantOpens(t, fresh, 2)

	stale := NewBarrier(c.src)
	if err := m.unseal(t, stale, oldDir); err != nil {
		t.Fatal(err)
	}
	s2, _ := c.src.DataKey(2)
	if err := stale.CheckDataKey(2, s2); !errors.Is(err, ErrBadDataKey) {
		t.Errorf("the old record's root opens the new keyring: %v", err)
	}

	// Seal forgets the retained unseal secret as well.
	c.b.mu.RLock()
	keep := c.b.rs.keep
	c.b.mu.RUnlock()
	c.b.Seal()
	if !bytes.Equal(keep, make([]byte, len(keep))) {
		t.Error("Seal left the retained unseal secret in memory")
	}
	if _, err := c.b.RewriteRecord(c.dir); !errors.Is(err, ErrSealed) {
		t.Errorf("RewriteRecord sealed: %v", err)
	}
}

func TestRewriteRecordRefuses(t *testing.T) {
	t.Run("unseal.key replaced", func(t *testing.T) {
		c, _ := newRotCluster(t, InitOptions{})
		c.rotate(t, 1, 2)
		other := t.TempDir()
		if _, err := NewBarrier(newFakeSource()).Init(other, InitOptions{}); err != nil {
			t.Fatal(err)
		}
		key, _ := os.ReadFile(filepath.Join(other, unsealKeyFile))
		replaceFile(t, filepath.Join(c.dir, unsealKeyFile), key)
		before, _ := os.ReadFile(filepath.Join(c.dir, recordFile))
		if _, err := c.b.RewriteRecord(c.dir); !errors.Is(err, ErrRecordMismatch) {
			t.Fatalf("RewriteRecord with a foreign unseal.key: %v", err)
		}
		if after, _ := os.ReadFile(filepath.Join(c.dir, recordFile)); !bytes.Equal(before, after) {
			t.Error("seal.json changed")
		}
	})
	t.Run("shamir joiner without shares", func(t *testing.T) {
		c, _ := newRotCluster(t, InitOptions{Method: MethodShamir, Shares: 3, Threshold: 2})
		jk, err := NewJoinKey()
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := c.b.WrapRootFor(jk.Public(), []byte("join"))
		if err != nil {
			t.Fatal(err)
		}
		joiner := NewBarrier(c.src)
		if err := joiner.UnsealFromJoin(jk, wrapped, []byte("join")); err != nil {
			t.Fatal(err)
		}
		raw, _ := c.b.Record()
		dir := t.TempDir()
		if err := joiner.AdoptRecord(dir, raw); err != nil {
			t.Fatal(err)
		}
		c.rotate(t, 1, 2)
		if moved, err := joiner.FollowRoot(c.src, nil); !moved || err != nil {
			t.Fatalf("joiner: moved %v, %v", moved, err)
		}
		if _, err := joiner.RewriteRecord(dir); !errors.Is(err, ErrNoUnsealKey) {
			t.Errorf("RewriteRecord without an unseal key: %v", err)
		}
	})
}

func TestReseal(t *testing.T) {
	c, _ := newRotCluster(t, InitOptions{})
	sealed, err := c.b.NewDataKey(3)
	if err != nil {
		t.Fatal(err)
	}
	c.src.put(3, sealed)
	r, err := c.b.Reseal(SealedObject{ID: rotBinding.ID, Owner: rotBinding.Owner, Material: c.blobs[1]})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := BlobVersion(r.Sealed); v != 3 || r.ID != rotBinding.ID || !bytes.Equal(r.Previous, c.blobs[1]) {
		t.Fatalf("Reseal = version %d, %+v", v, r)
	}
	c.blobs[3] = r.Sealed
	c.wantOpens(t, c.b, 3)
	if _, err := c.b.Reseal(SealedObject{ID: rotBinding.ID, Owner: "mallory", Material: c.blobs[1]}); !errors.Is(err, ErrSealedData) {
		t.Errorf("Reseal under another owner: %v", err)
	}
}
