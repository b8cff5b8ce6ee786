package seal

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// auditKeyOf derives the audit key of version the way DESIGN.md says,
// from the data key unwrapped with the keyring key: an independent
// computation to compare AuditMAC with.
func auditKeyOf(t *testing.T, b *Barrier, src KeySource, version uint32) []byte {
	t.Helper()
	sealed, ok := src.DataKey(version)
	if !ok {
		t.Fatalf("no data key %d", version)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	key, ok := gcmOpen(b.keyring, sealed[1:], dataKeyAAD(b.clusterID, version))
	if !ok {
		t.Fatal("data key does not open")
	}
	k, err := hkdf.Key(sha256.New, key, nil, "kmsd audit v1"+b.clusterID, 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuditMAC(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	data := []byte(`{"seq":1}`)
	mac1, err := c.b.AuditMAC(1, data)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, auditKeyOf(t, c.b, c.src, 1))
	m.Write(data)
	if want := m.Sum(nil); !bytes.Equal(mac1, want) {
		t.Fatalf("AuditMAC = %x, want HMAC-SHA256(HKDF(data key 1)) %x", mac1, want)
	}
	again, err := c.b.AuditMAC(1, data)
	if err != nil || !bytes.Equal(again, mac1) {
		t.Fatalf("second AuditMAC (cached key) = %x, %v; want %x", again, err, mac1)
	}
	if v, err := c.b.AuditKeyVersion(); v != 1 || err != nil {
		t.Fatalf("AuditKeyVersion = %d, %v; want 1", v, err)
	}

	c.addKey(t, 2)
	if v, err := c.b.AuditKeyVersion(); v != 2 || err != nil {
		t.Fatalf("AuditKeyVersion after rotation = %d, %v; want 2", v, err)
	}
	mac2, err := c.b.AuditMAC(2, data)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(mac1, mac2) {
		t.Fatal("versions 1 and 2 give the same MAC")
	}
	if other, _ := c.b.AuditMAC(1, []byte(`{"seq":2}`)); bytes.Equal(other, mac1) {
		t.Fatal("different data gives the same MAC")
	}

	// The data key itself must not be the MAC key: the audit key is a
	// derivation of its own.
	sealed, _ := c.src.DataKey(1)
	c.b.mu.RLock()
	raw, _ := gcmOpen(c.b.keyring, sealed[1:], dataKeyAAD(c.b.clusterID, 1))
	c.b.mu.RUnlock()
	direct := hmac.New(sha256.New, raw)
	direct.Write(data)
	if bytes.Equal(direct.Sum(nil), mac1) {
		t.Fatal("AuditMAC is keyed by the data key itself")
	}

	c.src.retire(1)
	if _, err := c.b.AuditMAC(1, data); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("AuditMAC of a retired (cached) version: %v, want ErrUnknownKeyVersion", err)
	}
	if _, err := c.b.AuditMAC(0, data); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("AuditMAC of version 0: %v", err)
	}
}

// TestAuditMACPerCluster: two clusters' audit keys differ even for the
// same data key bytes.
func TestAuditMACPerCluster(t *testing.T) {
	a, _ := newTestCluster(t, InitOptions{})
	b, _ := newTestCluster(t, InitOptions{})
	ma, err := a.b.AuditMAC(1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.b.AuditMAC(1, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ma, mb) {
		t.Fatal("two clusters give the same audit MAC")
	}
}

func TestAuditMACSealed(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	if _, err := c.b.AuditMAC(1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.b.cacheMu.RLock()
	e := c.b.cache[1]
	c.b.cacheMu.RUnlock()
	if e == nil || len(e.audit) != keySize {
		t.Fatal("no cached audit key")
	}
	c.b.Seal()
	if !bytes.Equal(e.audit, make([]byte, keySize)) {
		t.Error("Seal left the cached audit key in memory")
	}
	if _, err := c.b.AuditMAC(1, []byte("x")); !errors.Is(err, ErrSealed) {
		t.Fatalf("AuditMAC sealed: %v", err)
	}
	if _, err := c.b.AuditKeyVersion(); !errors.Is(err, ErrSealed) {
		t.Fatalf("AuditKeyVersion sealed: %v", err)
	}
	empty := NewBarrier(newFakeSource())
	if _, err := empty.Init(t.TempDir(), InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := empty.AuditKeyVersion(); !errors.Is(err, ErrNoDataKey) {
		t.Fatalf("AuditKeyVersion without a data key: %v", err)
	}
}

// TestAuditMACAcrossRootRotation: a root rotation keeps the data keys, so
// lines written before it still verify after it.
func TestAuditMACAcrossRootRotation(t *testing.T) {
	c, _ := newRotCluster(t, InitOptions{})
	before, err := c.b.AuditMAC(1, []byte("line"))
	if err != nil {
		t.Fatal(err)
	}
	c.rotate(t, 1, 1, 2)
	after, err := c.b.AuditMAC(1, []byte("line"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the audit MAC of version 1 changed with the root key")
	}
}
