package seal

import (
	"encoding/binary"
	"fmt"
)

// Object blob formats.
const (
	formatLegacy = 0x01 // 0x01 | nonce(12) | ciphertext+tag; data key version 1, AAD "kmsd/v1/object:" + id
	formatV2     = 0x02 // 0x02 | version(4, big-endian) | nonce(12) | ciphertext+tag

	legacyVersion = 1
	v2Header      = 1 + 4 + nonceSize
	domainV2      = "kmsd/v2/object"
	domainLegacy  = "kmsd/v1/object:"
)

// Binding is what an object's ciphertext is bound to: a blob sealed for one
// binding opens for no other.
type Binding struct{ ID, Owner string }

// objectAAD is the AAD of a format-2 blob:
//
//	"kmsd/v2/object" | lp(cluster id) | lp(owner) | lp(object id) | 0x02 | version(4)
//
// where lp(s) is a 4-byte big-endian length followed by s.
func objectAAD(clusterID string, bd Binding, version uint32) []byte {
	aad := make([]byte, 0, len(domainV2)+12+len(clusterID)+len(bd.Owner)+len(bd.ID)+5)
	aad = append(aad, domainV2...)
	aad = appendLP(aad, clusterID)
	aad = appendLP(aad, bd.Owner)
	aad = appendLP(aad, bd.ID)
	aad = append(aad, formatV2)
	return binary.BigEndian.AppendUint32(aad, version)
}

// SealObject encrypts plaintext for the binding under the latest data key of
// the keyring, in blob format 2.
func (b *Barrier) SealObject(bd Binding, plaintext []byte) ([]byte, error) {
	if bd.ID == "" {
		return nil, ErrBinding
	}
	// The keyring is read under the lock: a root key replacement
	// (FollowRoot) changes the keyring and the root key together.
	b.mu.RLock()
	defer b.mu.RUnlock()
	version, sealed, ok := b.src.LatestDataKey()
	if !ok {
		return nil, ErrNoDataKey
	}
	if version == 0 {
		return nil, fmt.Errorf("%w: the latest entry has version 0", ErrBadDataKey)
	}
	if b.root == nil {
		return nil, ErrSealed
	}
	aead, err := b.dataAEAD(version, sealed)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, v2Header+len(plaintext)+tagSize)
	out[0] = formatV2
	binary.BigEndian.PutUint32(out[1:5], version)
	return gcmSeal(aead, out, plaintext, objectAAD(b.clusterID, bd, version)), nil
}

// OpenObject decrypts a blob sealed for the same binding. The version the
// blob names is looked up in the keyring on every call, so a version retired
// from the keyring fails with ErrUnknownKeyVersion even if it was cached.
// Format-1 blobs (before the keyring) open with data key version 1 and their
// legacy AAD, which binds only the object id.
func (b *Barrier) OpenObject(bd Binding, blob []byte) ([]byte, error) {
	version, err := BlobVersion(blob)
	if err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	sealed, ok := b.src.DataKey(version)
	if !ok {
		b.evict(version)
		return nil, fmt.Errorf("%w (version %d)", ErrUnknownKeyVersion, version)
	}
	if b.root == nil {
		return nil, ErrSealed
	}
	aead, err := b.dataAEAD(version, sealed)
	if err != nil {
		return nil, err
	}
	var body, aad []byte
	if blob[0] == formatLegacy {
		body, aad = blob[1:], append([]byte(domainLegacy), bd.ID...)
	} else {
		body, aad = blob[5:], objectAAD(b.clusterID, bd, version)
	}
	pt, ok := gcmOpen(aead, body, aad)
	if !ok {
		return nil, ErrSealedData
	}
	return pt, nil
}

// BlobVersion returns the data key version a sealed blob names (1 for a
// legacy format-1 blob), for rewrap progress and keyring usage counts. It
// checks the blob's form, not its authenticity.
func BlobVersion(blob []byte) (uint32, error) {
	if len(blob) == 0 {
		return 0, fmt.Errorf("%w: empty blob", ErrSealedData)
	}
	switch blob[0] {
	case formatLegacy:
		if len(blob) < 1+nonceSize+tagSize {
			return 0, fmt.Errorf("%w: %d-byte format-1 blob is shorter than its header and tag", ErrSealedData, len(blob))
		}
		return legacyVersion, nil
	case formatV2:
		if len(blob) < v2Header+tagSize {
			return 0, fmt.Errorf("%w: %d-byte format-2 blob is shorter than its header and tag", ErrSealedData, len(blob))
		}
		v := binary.BigEndian.Uint32(blob[1:5])
		if v == 0 {
			return 0, fmt.Errorf("%w: the blob names data key version 0", ErrSealedData)
		}
		return v, nil
	default:
		return 0, fmt.Errorf("%w: unknown blob format 0x%02x", ErrSealedData, blob[0])
	}
}
