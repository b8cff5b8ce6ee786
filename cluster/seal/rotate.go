package seal

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// Root key rotation. Retiring a data key version removes it from the
// keyring, but copies of the old keyring (sealed under the root key) stay in
// old snapshots, old Raft log entries and free pages of the log store. So
// retiring also replaces the root key: the proposer's barrier makes a new
// root key R', seals every remaining data key under R' and wraps R' under the
// current root key R (PrepareRootRotation), and one replicated command
// installs the new keyring and the wrapped R' together. Every node then
// unwraps R' with R, installs it and forgets R (FollowRoot), and writes its
// seal.json again so that its unseal method protects R' (RewriteRecord). A
// copy of the keyring taken before opens under R only, which no node and no
// seal.json holds any more.
//
// The proposer keeps nothing: it drops R' at once and moves like every other
// node, when the command is applied.

const (
	transitionFormat = 0x01
	transitionSize   = 1 + nonceSize + keySize + tagSize // 61 bytes
	infoRootRotation = "kmsd root rotation v1"
	domainRotation   = "kmsd/v1/root-rotation"
	// maxRotationKeys bounds the keyring a rotation re-seals.
	maxRotationKeys = 1 << 16
)

// Root rotation errors.
var (
	ErrRootMismatch = errors.New("seal: this node's root key opens neither the keyring nor the latest root transition: " +
		"the state is older than the root key (a restart or restore still catching up), or this node missed more than " +
		"one root rotation while down and must rejoin the cluster with an empty data folder")
	ErrNoUnsealKey = errors.New("seal: seal.json cannot be written for the new root key: this node holds no unseal key " +
		"(it joined a shamir cluster and was never unsealed with shares); it is written when the node is next unsealed")
	ErrRecordMismatch = errors.New("seal: the unseal key this node holds does not open its seal.json; seal.json was not " +
		"rewritten: check that seal.json (and unseal.key) are this node's own")
)

// rootState is what the barrier knows about the root key it holds, besides
// the key: its epoch, whether seal.json protects it, and the secret that
// lets it write seal.json again without asking the operator. Guarded by
// Barrier.mu.
type rootState struct {
	// epoch is the root epoch of the key held: 0 for the cluster's first
	// root key, one more per rotation. A joiner starts at 0 and learns it
	// from the keyring (FollowRoot).
	epoch uint64
	// onDisk: seal.json protects the key held now, recorded as diskEpoch.
	onDisk    bool
	diskEpoch uint64
	// keep is the unseal key (passphrase: the Argon2id output; shamir:
	// the key derived from the recovered secret) or the HSM PIN; nil for
	// the file method, whose unseal.key is read again.
	keep []byte
}

// recordState is the state of a root key read from or written to rec; it
// takes ownership of keep.
func recordState(rec *Record, keep []byte) rootState {
	return rootState{epoch: rec.RootEpoch, onDisk: true, diskEpoch: rec.RootEpoch, keep: keep}
}

// recorded notes that rec now protects the key held; keep (owned) replaces
// the retained secret unless it is nil.
func (s *rootState) recorded(rec *Record, keep []byte) {
	s.onDisk, s.diskEpoch = true, rec.RootEpoch
	if keep != nil {
		clear(s.keep)
		s.keep = keep
	}
}

// stale reports whether seal.json needs writing for the key held.
func (s *rootState) stale() bool { return !s.onDisk || s.diskEpoch != s.epoch }

func (s *rootState) forget() {
	clear(s.keep)
	*s = rootState{}
}

// RootState is the replicated state a root key replacement reads: the
// newest data key and the latest root transition.
type RootState interface {
	LatestDataKey() (version uint32, sealed []byte, ok bool)
	// RootTransition returns the keyring's root epoch and that epoch's
	// root key wrapped under the previous one (nil at epoch 0).
	RootTransition() (epoch uint64, wrapped []byte)
}

// RootRotation is a prepared replacement of the root key, to be proposed
// as one command: the new epoch, the new root key wrapped under the current
// one, and the data keys sealed under the new root key.
type RootRotation struct {
	Epoch   uint64
	Wrapped []byte
	Keys    []SealedDataKey
}

// transitionAAD is "kmsd/v1/root-rotation" | lp(cluster id) | u64(epoch) | 0x01.
func transitionAAD(clusterID string, epoch uint64) []byte {
	aad := appendLP([]byte(domainRotation), clusterID)
	aad = binary.BigEndian.AppendUint64(aad, epoch)
	return append(aad, transitionFormat)
}

// PrepareRootRotation makes a new root key for epoch and returns it wrapped
// under the current root key, with keys (oldest first, each sealed under
// the current root key) sealed again under it. The new key is not
// installed here and not kept: every node, this one included, installs it
// from the replicated state with FollowRoot.
func (b *Barrier) PrepareRootRotation(epoch uint64, keys []SealedDataKey) (RootRotation, error) {
	if epoch == 0 {
		return RootRotation{}, fmt.Errorf("%w: root epoch 0 is the cluster's first root key", ErrBadOptions)
	}
	if len(keys) == 0 || len(keys) > maxRotationKeys {
		return RootRotation{}, fmt.Errorf("%w: a root rotation carries 1 to %d data keys, not %d", ErrBadOptions, maxRotationKeys, len(keys))
	}
	for i, k := range keys {
		if k.Version == 0 || i > 0 && k.Version <= keys[i-1].Version {
			return RootRotation{}, fmt.Errorf("%w: data key versions must be non-zero and increasing", ErrBadOptions)
		}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return RootRotation{}, ErrSealed
	}
	next := make([]byte, keySize)
	randRead(next)
	defer clear(next)
	nextKR, err := deriveAEAD(next, infoKeyring+b.clusterID)
	if err != nil {
		return RootRotation{}, err
	}
	wrap, err := deriveAEAD(b.root, infoRootRotation+b.clusterID)
	if err != nil {
		return RootRotation{}, err
	}
	out := RootRotation{Epoch: epoch, Keys: make([]SealedDataKey, 0, len(keys))}
	for _, k := range keys {
		dk, ok := openDataKey(b.keyring, b.clusterID, k.Version, k.Sealed)
		if !ok {
			return RootRotation{}, fmt.Errorf("%w (version %d)", ErrBadDataKey, k.Version)
		}
		sealed := gcmSeal(nextKR, append(make([]byte, 0, dataKeySealed), dataKeyFormat), dk, dataKeyAAD(b.clusterID, k.Version))
		clear(dk)
		out.Keys = append(out.Keys, SealedDataKey{Version: k.Version, Sealed: sealed})
	}
	out.Wrapped = gcmSeal(wrap, append(make([]byte, 0, transitionSize), transitionFormat), next, transitionAAD(b.clusterID, epoch))
	return out, nil
}

// FollowRoot makes the barrier hold the root key of the replicated state.
// apply, if not nil, runs first, under the barrier's write lock: it is the
// state change that may install a new keyring, so that no seal or open ever
// sees the new keyring with the old root key or the reverse. Then:
//
//   - the newest data key opens under the root key held: nothing to do (the
//     epoch is noted, for a joiner that did not know it);
//   - the latest transition opens under it: the barrier installs the
//     transition's root key, clears the old one and drops every cached data
//     key (moved is true; seal.json is now stale, see RewriteRecord);
//   - neither: ErrRootMismatch, and nothing changes.
//
// A sealed barrier answers ErrSealed (after running apply).
func (b *Barrier) FollowRoot(st RootState, apply func()) (moved bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if apply != nil {
		apply()
	}
	if b.root == nil {
		return false, ErrSealed
	}
	version, sealed, ok := st.LatestDataKey()
	if !ok {
		return false, nil
	}
	epoch, wrapped := st.RootTransition()
	if opensDataKey(b.keyring, b.clusterID, version, sealed) {
		b.rs.epoch = epoch
		return false, nil
	}
	next, ok := b.openTransition(epoch, wrapped)
	if !ok {
		return false, fmt.Errorf("%w (keyring at root epoch %d; this node's root key at epoch %d)", ErrRootMismatch, epoch, b.rs.epoch)
	}
	kr, err := deriveAEAD(next, infoKeyring+b.clusterID)
	if err != nil {
		clear(next)
		return false, err
	}
	if !opensDataKey(kr, b.clusterID, version, sealed) {
		clear(next)
		return false, fmt.Errorf("%w: the root key of epoch %d does not open data key version %d", ErrBadDataKey, epoch, version)
	}
	clear(b.root)
	b.root, b.keyring = next, kr
	b.rs.epoch, b.rs.onDisk = epoch, false
	b.cacheMu.Lock()
	for v, e := range b.cache {
		e.forget()
		delete(b.cache, v)
	}
	b.cacheMu.Unlock()
	return true, nil
}

// openTransition unwraps the root key of epoch from wrapped with the root
// key held. The caller holds b.mu and has checked that the barrier is
// unsealed.
func (b *Barrier) openTransition(epoch uint64, wrapped []byte) ([]byte, bool) {
	if epoch == 0 || len(wrapped) != transitionSize || wrapped[0] != transitionFormat {
		return nil, false
	}
	aead, err := deriveAEAD(b.root, infoRootRotation+b.clusterID)
	if err != nil {
		return nil, false
	}
	k, ok := gcmOpen(aead, wrapped[1:], transitionAAD(b.clusterID, epoch))
	if !ok || len(k) != keySize {
		clear(k)
		return nil, false
	}
	return k, true
}

// RootEpoch returns the root epoch of the key held (0 while sealed, and for
// a joiner until FollowRoot has seen the keyring).
func (b *Barrier) RootEpoch() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.rs.epoch
}

// CheckDataKey reports whether a sealed data key of version opens under the
// root key held: nil, ErrBadDataKey, or ErrSealed. It reveals nothing else.
func (b *Barrier) CheckDataKey(version uint32, sealed []byte) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return ErrSealed
	}
	if !opensDataKey(b.keyring, b.clusterID, version, sealed) {
		return fmt.Errorf("%w (version %d)", ErrBadDataKey, version)
	}
	return nil
}

// openDataKey unwraps a sealed data key under the keyring wrapping key kr;
// the caller clears the key.
func openDataKey(kr cipher.AEAD, clusterID string, version uint32, sealed []byte) ([]byte, bool) {
	if version == 0 || len(sealed) != dataKeySealed || sealed[0] != dataKeyFormat {
		return nil, false
	}
	k, ok := gcmOpen(kr, sealed[1:], dataKeyAAD(clusterID, version))
	if !ok || len(k) != keySize {
		clear(k)
		return nil, false
	}
	return k, true
}

func opensDataKey(kr cipher.AEAD, clusterID string, version uint32, sealed []byte) bool {
	k, ok := openDataKey(kr, clusterID, version, sealed)
	clear(k)
	return ok
}
