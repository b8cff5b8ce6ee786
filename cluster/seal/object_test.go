package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	bd := Binding{ID: "obj-1", Owner: "tenant-a"}
	for _, pt := range [][]byte{nil, {0}, []byte("a 32-byte AES key 0123456789abcd"), bytes.Repeat([]byte{7}, 5000)} {
		blob, err := c.b.SealObject(bd, pt)
		if err != nil {
			t.Fatal(err)
		}
		if blob[0] != formatV2 || binary.BigEndian.Uint32(blob[1:5]) != 1 || len(blob) != v2Header+len(pt)+tagSize {
			t.Fatalf("blob header %x, length %d for %d plaintext bytes", blob[:5], len(blob), len(pt))
		}
		if len(pt) > 8 && bytes.Contains(blob, pt) {
			t.Fatal("blob contains the plaintext")
		}
		got, err := c.b.OpenObject(bd, blob)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("OpenObject = %x, %v; want %x", got, err, pt)
		}
	}
}

func TestOpenObjectRefuses(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	other, _ := newTestCluster(t, InitOptions{}) // another cluster, same data key version
	bd := Binding{ID: "obj-1", Owner: "tenant-a"}
	blob, err := c.b.SealObject(bd, []byte("secret key material"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		b    *Barrier
		bd   Binding
		blob []byte
		want error
	}{
		{"wrong id", c.b, Binding{ID: "obj-2", Owner: "tenant-a"}, blob, ErrSealedData},
		{"wrong owner", c.b, Binding{ID: "obj-1", Owner: "tenant-b"}, blob, ErrSealedData},
		{"no owner", c.b, Binding{ID: "obj-1"}, blob, ErrSealedData},
		{"id and owner swapped boundary", c.b, Binding{ID: "1", Owner: "tenant-aobj-"}, blob, ErrSealedData},
		{"wrong cluster", other.b, bd, blob, ErrSealedData},
		{"tampered nonce", c.b, bd, flip(6), ErrSealedData},
		{"tampered ciphertext", c.b, bd, flip(v2Header + 2), ErrSealedData},
		{"tampered tag", c.b, bd, flip(len(blob) - 1), ErrSealedData},
		{"tampered format", c.b, bd, flip(0), ErrSealedData}, // 0x03: unknown format
		{"truncated to header", c.b, bd, blob[:v2Header], ErrSealedData},
		{"truncated by one", c.b, bd, blob[:len(blob)-1], ErrSealedData},
		{"empty", c.b, bd, nil, ErrSealedData},
		{"version 0", c.b, bd, append([]byte{formatV2, 0, 0, 0, 0}, blob[5:]...), ErrSealedData},
		{"unknown version", c.b, bd, append([]byte{formatV2, 0, 0, 0, 9}, blob[5:]...), ErrUnknownKeyVersion},
		{"version bumped to one that exists", c.b, bd, func() []byte {
			c.addKey(t, 2)
			b := bytes.Clone(blob)
			b[4] = 2
			return b
		}(), ErrSealedData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.b.OpenObject(tt.bd, tt.blob)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("OpenObject = %x, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestBlobVersion(t *testing.T) {
	tag := make([]byte, tagSize)
	tests := []struct {
		name string
		blob []byte
		want uint32
		err  error
	}{
		{"v2 version 7", append([]byte{2, 0, 0, 0, 7}, append(make([]byte, nonceSize), tag...)...), 7, nil},
		{"v2 max version", append([]byte{2, 0xff, 0xff, 0xff, 0xff}, append(make([]byte, nonceSize), tag...)...), 1<<32 - 1, nil},
		{"legacy", append([]byte{1}, append(make([]byte, nonceSize), tag...)...), 1, nil},
		{"v2 too short", []byte{2, 0, 0, 0, 7}, 0, ErrSealedData},
		{"legacy too short", []byte{1, 0, 0}, 0, ErrSealedData},
		{"v2 version 0", append([]byte{2, 0, 0, 0, 0}, append(make([]byte, nonceSize), tag...)...), 0, ErrSealedData},
		{"unknown format", append([]byte{9}, make([]byte, 40)...), 0, ErrSealedData},
		{"empty", nil, 0, ErrSealedData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BlobVersion(tt.blob)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("BlobVersion = %d, %v; want %d, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestRotateAndRetire(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	bd := Binding{ID: "obj", Owner: "o"}
	old, err := c.b.SealObject(bd, []byte("v1 secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.addKey(t, 2)
	cur, err := c.b.SealObject(bd, []byte("v2 secret"))
	if err != nil {
		t.Fatal(err)
	}
	for blob, want := range map[*[]byte]uint32{&old: 1, &cur: 2} {
		if v, err := BlobVersion(*blob); v != want || err != nil {
			t.Fatalf("BlobVersion = %d, %v; want %d", v, err, want)
		}
	}
	if pt, err := c.b.OpenObject(bd, old); err != nil || string(pt) != "v1 secret" {
		t.Fatalf("old blob after rotation: %q, %v", pt, err)
	}
	// Version 1 was used (and cached); once retired it must not open.
	c.src.retire(1)
	if _, err := c.b.OpenObject(bd, old); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("retired version: %v, want ErrUnknownKeyVersion", err)
	}
	if pt, err := c.b.OpenObject(bd, cur); err != nil || string(pt) != "v2 secret" {
		t.Fatalf("current blob after retire: %q, %v", pt, err)
	}
	// The sealed entry changes under a version: the barrier unwraps anew.
	c.addKey(t, 2)
	if _, err := c.b.OpenObject(bd, cur); !errors.Is(err, ErrSealedData) {
		t.Fatalf("blob under a replaced data key: %v, want ErrSealedData", err)
	}
}

func TestLegacyBlob(t *testing.T) {
	c := &testCluster{src: newFakeSource(), dir: t.TempDir()}
	c.b = NewBarrier(c.src)
	if _, err := c.b.Init(c.dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	// Migration: the old node.key becomes data key version 1.
	nodeKey := make([]byte, keySize)
	rand.Read(nodeKey)
	sealed, err := c.b.SealDataKey(1, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	assertNotIn(t, "sealed data key", sealed, nodeKey)
	c.src.put(1, sealed)
	// A blob as the old cluster.Keyring.Seal wrote it.
	aead, err := newGCM(nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	legacy := gcmSeal(aead, []byte{formatLegacy}, []byte("old material"), []byte("kmsd/v1/object:obj-9"))

	if pt, err := c.b.OpenObject(Binding{ID: "obj-9", Owner: "anyone"}, legacy); err != nil || string(pt) != "old material" {
		t.Fatalf("legacy blob: %q, %v", pt, err)
	}
	if _, err := c.b.OpenObject(Binding{ID: "obj-8"}, legacy); !errors.Is(err, ErrSealedData) {
		t.Fatalf("legacy blob, wrong id: %v", err)
	}
	// New seals use format 2 even with only version 1.
	blob, err := c.b.SealObject(Binding{ID: "obj-9"}, []byte("x"))
	if err != nil || blob[0] != formatV2 {
		t.Fatalf("SealObject after migration: %x, %v", blob, err)
	}
	c.src.retire(1)
	if _, err := c.b.OpenObject(Binding{ID: "obj-9"}, legacy); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("legacy blob after retiring version 1: %v", err)
	}
}

func TestDataKeys(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	other, _ := newTestCluster(t, InitOptions{})
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"version 0", func() error { _, err := c.b.NewDataKey(0); return err }, ErrBadOptions},
		{"short key", func() error { _, err := c.b.SealDataKey(3, make([]byte, 16)); return err }, ErrBadOptions},
		{"no data key", func() error {
			_, err := barrierWithRoot(t, c).SealObject(Binding{ID: "x"}, nil)
			return err
		}, ErrNoDataKey},
		{"empty id", func() error { _, err := c.b.SealObject(Binding{Owner: "o"}, nil); return err }, ErrBinding},
		{"another cluster's data key", func() error {
			sealed, _ := other.b.NewDataKey(5)
			c.src.put(5, sealed)
			defer c.src.retire(5)
			_, err := c.b.SealObject(Binding{ID: "x"}, nil)
			return err
		}, ErrBadDataKey},
		{"data key sealed for another version", func() error {
			sealed, _ := c.b.NewDataKey(6)
			c.src.put(7, sealed)
			defer c.src.retire(7)
			_, err := c.b.SealObject(Binding{ID: "x"}, nil)
			return err
		}, ErrBadDataKey},
		{"truncated data key", func() error {
			sealed, _ := c.b.NewDataKey(8)
			c.src.put(8, sealed[:len(sealed)-1])
			defer c.src.retire(8)
			_, err := c.b.SealObject(Binding{ID: "x"}, nil)
			return err
		}, ErrBadDataKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// barrierWithRoot is a barrier unsealed with c's root key over an empty
// keyring.
func barrierWithRoot(t *testing.T, c *testCluster) *Barrier {
	t.Helper()
	b := NewBarrier(newFakeSource())
	if err := b.install(rootKey(t, c.b), c.b.ClusterID(), nil, rootState{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAADBindsClusterAndVersion uses one raw data key under two versions
// and in two clusters, so that only the AAD can tell the blobs apart.
func TestAADBindsClusterAndVersion(t *testing.T) {
	raw := make([]byte, keySize)
	rand.Read(raw)
	withKey := func(versions ...uint32) *testCluster {
		c := &testCluster{src: newFakeSource(), dir: t.TempDir()}
		c.b = NewBarrier(c.src)
		if _, err := c.b.Init(c.dir, InitOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			sealed, err := c.b.SealDataKey(v, raw)
			if err != nil {
				t.Fatal(err)
			}
			c.src.put(v, sealed)
		}
		return c
	}
	a, b := withKey(1), withKey(1, 2)
	bd := Binding{ID: "obj", Owner: "o"}
	blob, err := a.b.SealObject(bd, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.b.OpenObject(bd, blob); err != nil {
		t.Fatal(err)
	}
	if _, err := b.b.OpenObject(bd, blob); !errors.Is(err, ErrSealedData) {
		t.Fatalf("another cluster with the same data key: %v, want ErrSealedData", err)
	}
	blob, err = b.b.SealObject(bd, []byte("x")) // version 2
	if err != nil {
		t.Fatal(err)
	}
	relabelled := bytes.Clone(blob)
	relabelled[4] = 1
	if _, err := b.b.OpenObject(bd, relabelled); !errors.Is(err, ErrSealedData) {
		t.Fatalf("blob relabelled to a version with the same key: %v, want ErrSealedData", err)
	}
}
