package seal

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// KeySource is the replicated keyring as the state machine holds it: each
// data key sealed under the root key.
type KeySource interface {
	DataKey(version uint32) (sealed []byte, ok bool)
	LatestDataKey() (version uint32, sealed []byte, ok bool)
}

const (
	dataKeyFormat = 0x01
	dataKeySealed = 1 + nonceSize + keySize + tagSize // 61 bytes
	domainDataKey = "kmsd/v1/datakey"
)

// dataKeyAAD is "kmsd/v1/datakey" | lp(cluster id) | version(4) | 0x01.
func dataKeyAAD(clusterID string, version uint32) []byte {
	aad := appendLP([]byte(domainDataKey), clusterID)
	aad = binary.BigEndian.AppendUint32(aad, version)
	return append(aad, dataKeyFormat)
}

// NewDataKey returns a fresh random data key for version, sealed under the
// root key, for the state machine to store in the keyring.
func (b *Barrier) NewDataKey(version uint32) (sealed []byte, err error) {
	key := make([]byte, keySize)
	defer clear(key)
	randRead(key)
	return b.SealDataKey(version, key)
}

// SealDataKey seals an existing 32-byte data key for version under the root
// key: the migration of a legacy node.key to keyring version 1. The caller
// still owns key and should clear it.
func (b *Barrier) SealDataKey(version uint32, key []byte) ([]byte, error) {
	if version == 0 {
		return nil, fmt.Errorf("%w: data key version 0 is reserved; versions start at 1", ErrBadOptions)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: a data key is %d bytes, got %d", ErrBadOptions, keySize, len(key))
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, ErrSealed
	}
	out := make([]byte, 1, dataKeySealed)
	out[0] = dataKeyFormat
	return gcmSeal(b.keyring, out, key, dataKeyAAD(b.clusterID, version)), nil
}

// dataAEAD returns the AEAD of data key version, unwrapping sealed unless
// the cache holds the same sealed bytes. The caller holds b.mu for reading
// and has checked that the barrier is unsealed.
func (b *Barrier) dataAEAD(version uint32, sealed []byte) (cipher.AEAD, error) {
	e, err := b.dataKey(version, sealed)
	if err != nil {
		return nil, err
	}
	return e.aead, nil
}

// dataKey returns the cache entry of data key version (its AEAD and the
// keys derived from it), unwrapping sealed unless the cache holds the same
// sealed bytes. The caller holds b.mu for reading and has checked that the
// barrier is unsealed.
func (b *Barrier) dataKey(version uint32, sealed []byte) (*cachedKey, error) {
	b.cacheMu.RLock()
	e := b.cache[version]
	b.cacheMu.RUnlock()
	if e != nil && bytes.Equal(e.sealed, sealed) {
		return e, nil
	}
	if len(sealed) != dataKeySealed || sealed[0] != dataKeyFormat {
		return nil, fmt.Errorf("%w (version %d is %d bytes, want %d)", ErrBadDataKey, version, len(sealed), dataKeySealed)
	}
	key, ok := gcmOpen(b.keyring, sealed[1:], dataKeyAAD(b.clusterID, version))
	if !ok {
		return nil, fmt.Errorf("%w (version %d)", ErrBadDataKey, version)
	}
	defer clear(key)
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	audit, err := hkdf.Key(sha256.New, key, nil, infoAudit+b.clusterID, keySize)
	if err != nil {
		return nil, err
	}
	e = &cachedKey{sealed: slices.Clone(sealed), aead: aead, audit: audit}
	b.cacheMu.Lock()
	if b.cache != nil {
		b.cache[version] = e
	}
	b.cacheMu.Unlock()
	return e, nil
}

// evict drops a cached data key that the keyring no longer holds. The
// caller holds b.mu.
func (b *Barrier) evict(version uint32) {
	b.cacheMu.Lock()
	delete(b.cache, version)
	b.cacheMu.Unlock()
}

// randRead fills p from crypto/rand, which never returns an error since Go
// 1.24 (it ends the program instead).
func randRead(p []byte) { _, _ = rand.Read(p) }
