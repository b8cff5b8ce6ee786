package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

const (
	keySize       = 32 // root, unseal and data keys: AES-256
	nonceSize     = 12 // AES-GCM nonce
	tagSize       = 16 // AES-GCM tag
	clusterIDSize = 16 // random bytes; hex-encoded to 32 characters

	infoKeyring     = "kmsd keyring wrap v1"
	infoSnapshotMAC = "kmsd snapshot mac v1"
	infoAudit       = "kmsd audit v1"
)

// Barrier holds the cluster's root key and the data keys unwrapped from the
// replicated keyring. It starts sealed; one of the Unseal methods, Init, or
// UnsealFromJoin unseals it, and Seal forgets every key again. All methods
// are safe for concurrent use: operations hold a read lock for as long as
// they use key material, so once Seal returns nothing uses a key any more.
type Barrier struct {
	src KeySource

	mu        sync.RWMutex
	root      []byte      // nil while sealed
	clusterID string      // empty while sealed
	keyring   cipher.AEAD // wraps data keys; derived from root
	record    []byte      // the seal.json bytes this root was unsealed from or written to; nil if none yet
	rs        rootState   // root epoch and what rewriting seal.json needs (rotate.go)

	rewriteMu sync.Mutex // serializes RewriteRecord

	cacheMu sync.RWMutex // guards cache; taken inside mu
	cache   map[uint32]*cachedKey

	sharesMu sync.Mutex
	pending  shareProgress
}

// cachedKey is one unwrapped data key. The raw key bytes are cleared as soon
// as the AEAD is built; the AES key schedule inside the AEAD cannot be cleared
// from Go, so Seal drops the reference instead.
type cachedKey struct {
	sealed []byte // what the source held when this was unwrapped
	aead   cipher.AEAD
	audit  []byte // the audit MAC key derived from this data key (audit.go)
}

// forget clears what the entry holds that can be cleared. Only a holder of
// b.mu for writing may call it: readers use the entry under the read lock.
func (e *cachedKey) forget() {
	clear(e.sealed)
	clear(e.audit)
}

// NewBarrier returns a sealed barrier that reads data keys from src.
func NewBarrier(src KeySource) *Barrier {
	return &Barrier{src: src}
}

// Sealed reports whether the barrier holds no root key.
func (b *Barrier) Sealed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.root == nil
}

// ClusterID returns the id of the cluster whose root key the barrier holds,
// or "" while sealed.
func (b *Barrier) ClusterID() string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.clusterID
}

// Seal zeroes the root key, drops every cached data key and any Shamir
// progress. It waits for operations in flight, is idempotent and safe to call
// concurrently with any other method.
func (b *Barrier) Seal() {
	b.ResetShares()
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.root)
	b.root, b.clusterID, b.keyring, b.record = nil, "", nil, nil
	b.rs.forget()
	b.cacheMu.Lock()
	for v, e := range b.cache {
		e.forget()
		delete(b.cache, v)
	}
	b.cacheMu.Unlock()
}

// install unseals the barrier with root (which it takes ownership of and
// clears on failure) for the cluster id. record is the seal.json the key came
// from, or nil; rs its epoch and retained unseal secret, also owned and
// cleared on failure.
func (b *Barrier) install(root []byte, clusterID string, record []byte, rs rootState) error {
	fail := func() { clear(root); rs.forget() }
	if len(root) != keySize {
		fail()
		return fmt.Errorf("%w: root key is %d bytes, want %d", ErrBadRecord, len(root), keySize)
	}
	if !validClusterID(clusterID) {
		fail()
		return fmt.Errorf("%w: cluster id %q is not %d hex characters", ErrBadRecord, clusterID, 2*clusterIDSize)
	}
	kr, err := deriveAEAD(root, infoKeyring+clusterID)
	if err != nil {
		fail()
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.root != nil {
		fail()
		return ErrAlreadyUnsealed
	}
	b.root, b.clusterID, b.keyring, b.record, b.rs = root, clusterID, kr, record, rs
	b.cacheMu.Lock()
	b.cache = make(map[uint32]*cachedKey)
	b.cacheMu.Unlock()
	return nil
}

// SnapshotMAC returns an HMAC-SHA256 keyed by HKDF-SHA256(root key,
// info "kmsd snapshot mac v1" + cluster id), for authenticating snapshots.
func (b *Barrier) SnapshotMAC() (hash.Hash, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, ErrSealed
	}
	k, err := hkdf.Key(sha256.New, b.root, nil, infoSnapshotMAC+b.clusterID, keySize)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	return hmac.New(sha256.New, k), nil
}

// deriveAEAD returns AES-256-GCM under HKDF-SHA256(secret, info).
func deriveAEAD(secret []byte, info string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, secret, nil, info, keySize)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	return newGCM(k)
}

// newGCM returns AES-256-GCM under key; the caller still owns key.
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// gcmSeal returns nonce || AES-GCM(plaintext, aad) with a random nonce,
// appended to dst.
func gcmSeal(aead cipher.AEAD, dst, plaintext, aad []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, nonceSize)...)
	randRead(dst[n:])
	return aead.Seal(dst, dst[n:], plaintext, aad)
}

// gcmOpen opens what gcmSeal produced (without dst).
func gcmOpen(aead cipher.AEAD, blob, aad []byte) ([]byte, bool) {
	if len(blob) < nonceSize+tagSize {
		return nil, false
	}
	pt, err := aead.Open(nil, blob[:nonceSize], blob[nonceSize:], aad)
	return pt, err == nil
}

// appendLP appends a uint32 big-endian length and then s: the one encoding of
// variable fields in every AAD and wrapped payload, so no two field lists
// encode to the same bytes.
func appendLP(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func validClusterID(id string) bool {
	if len(id) != 2*clusterIDSize {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newClusterID() string {
	b := make([]byte, clusterIDSize)
	randRead(b)
	return hex.EncodeToString(b)
}
