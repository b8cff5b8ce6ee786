package seal

import (
	"crypto/hpke"
	"encoding/binary"
	"fmt"
	"sync"
)

// Joining hands the root key to a new node without it ever being on the wire
// in clear, even inside TLS: the joiner makes a one-time HPKE key pair
// (ML-KEM-768 + X25519 hybrid, "X-Wing"; HKDF-SHA256; AES-256-GCM), a member
// seals the root key and cluster id to its public key, and only the joiner can
// open it.
const (
	joinFormat = 0x01
	domainJoin = "kmsd/v1/join"

	joinPayload = 4 + 2*clusterIDSize + keySize
)

var (
	joinKEM  = hpke.MLKEM768X25519()
	joinKDF  = hpke.HKDFSHA256()
	joinAEAD = hpke.AES256GCM()
)

// JoinKey is a joiner's one-time HPKE key pair. Its private key is dropped by
// the first UnsealFromJoin, whether that succeeds or not.
type JoinKey struct {
	pub []byte

	mu   sync.Mutex
	priv hpke.PrivateKey
}

// NewJoinKey generates a fresh join key pair.
func NewJoinKey() (*JoinKey, error) {
	priv, err := joinKEM.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("seal: join key: %w", err)
	}
	return &JoinKey{pub: priv.PublicKey().Bytes(), priv: priv}, nil
}

// Public returns the public key to send to a member.
func (jk *JoinKey) Public() []byte { return append([]byte(nil), jk.pub...) }

func (jk *JoinKey) take() hpke.PrivateKey {
	jk.mu.Lock()
	defer jk.mu.Unlock()
	p := jk.priv
	jk.priv = nil
	return p
}

// joinInfo is the HPKE info: "kmsd/v1/join" | lp(info).
func joinInfo(info []byte) []byte {
	return appendLP([]byte(domainJoin), string(info))
}

// WrapRootFor seals the root key and cluster id to a joiner's public key.
// info binds the result to the join (for example the token id and the
// joiner's node id); the joiner must pass the same info to open it.
//
// Output: 0x01 | HPKE encapsulated key | HPKE ciphertext of
// lp(cluster id) | root key.
func (b *Barrier) WrapRootFor(joinerPublic []byte, info []byte) ([]byte, error) {
	pk, err := joinKEM.NewPublicKey(joinerPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: the joiner's public key is not an %s key (%d bytes)", ErrBadOptions, "X-Wing", len(joinerPublic))
	}
	b.mu.RLock()
	if b.root == nil {
		b.mu.RUnlock()
		return nil, ErrSealed
	}
	pt := appendLP(make([]byte, 0, joinPayload), b.clusterID)
	pt = append(pt, b.root...)
	b.mu.RUnlock()
	defer clear(pt)
	ct, err := hpke.Seal(pk, joinKDF, joinAEAD, joinInfo(info), pt)
	if err != nil {
		return nil, fmt.Errorf("seal: wrap root key for joiner: %w", err)
	}
	return append([]byte{joinFormat}, ct...), nil
}

// UnsealFromJoin opens what a member's WrapRootFor made for jk and info, and
// unseals the barrier with the cluster's root key and id. The join key's
// private key is dropped whatever the outcome; a failed join starts again
// with a new key. The barrier holds no seal record yet: call Protect (or
// AdoptRecord for shamir) to write one.
func (b *Barrier) UnsealFromJoin(jk *JoinKey, wrapped []byte, info []byte) error {
	priv := jk.take()
	if priv == nil {
		return ErrJoinKeyUsed
	}
	if len(wrapped) < 2 || wrapped[0] != joinFormat {
		return fmt.Errorf("%w (malformed: %d bytes)", ErrBadJoin, len(wrapped))
	}
	pt, err := hpke.Open(priv, joinKDF, joinAEAD, joinInfo(info), wrapped[1:])
	if err != nil {
		return ErrBadJoin
	}
	defer clear(pt)
	if len(pt) != joinPayload || binary.BigEndian.Uint32(pt) != 2*clusterIDSize {
		return fmt.Errorf("%w (payload of %d bytes)", ErrBadJoin, len(pt))
	}
	id := string(pt[4 : 4+2*clusterIDSize])
	root := append([]byte(nil), pt[4+2*clusterIDSize:]...)
	return b.install(root, id, nil, rootState{})
}

// Joining is one join of this node: a one-time key pair, and what to do with
// the root key that arrives wrapped to it. It satisfies cluster.JoinKeys.
type Joining struct {
	b       *Barrier
	jk      *JoinKey
	dataDir string
	opts    InitOptions
}

// NewJoining starts a join of a node whose data folder is dataDir and whose
// own seal is opts.
func (b *Barrier) NewJoining(dataDir string, opts InitOptions) (*Joining, error) {
	jk, err := NewJoinKey()
	if err != nil {
		return nil, err
	}
	return &Joining{b: b, jk: jk, dataDir: dataDir, opts: opts}, nil
}

// Public is the public key the member wraps the root key to.
func (j *Joining) Public() []byte { return j.jk.Public() }

// Accept unseals the barrier with the wrapped root key and protects it in
// this node's seal record: with the node's own method, or, for shamir, the
// cluster's record, so that the same shares unseal every node.
func (j *Joining) Accept(wrapped, info, record []byte) error {
	if err := j.b.UnsealFromJoin(j.jk, wrapped, info); err != nil {
		return err
	}
	if j.opts.Method == MethodShamir {
		return j.b.AdoptRecord(j.dataDir, record)
	}
	return j.b.Protect(j.dataDir, j.opts)
}
