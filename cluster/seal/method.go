package seal

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"
)

// Method names an unseal method: how this node's seal.json protects the
// root key at rest.
type Method string

// The unseal methods.
const (
	MethodFile       Method = "file"       // unseal key in <dataDir>/unseal.key; unseals with no input (the dev default)
	MethodPassphrase Method = "passphrase" // unseal key = Argon2id(passphrase, salt)
	MethodShamir     Method = "shamir"     // unseal key from Threshold of Shares Shamir shares, checked against Feldman commitments
	MethodPKCS11     Method = "pkcs11"     // root key wrapped by a non-extractable AES key inside an HSM
)

// methods is the one table of unseal methods; each lives in a file of its own.
var methods = map[Method]method{
	MethodFile:       fileMethod{},
	MethodPassphrase: passphraseMethod{},
	MethodShamir:     shamirMethod{},
	MethodPKCS11:     pkcs11Method{},
}

// InitOptions choose and parameterize the unseal method of a new seal record.
type InitOptions struct {
	Method Method // empty means MethodFile

	// passphrase
	Passphrase []byte       // at least 8 bytes; the caller owns and clears it
	Argon2     Argon2Params // zero fields take the defaults (time 3, 64 MiB, 4 threads)

	// shamir: 1 <= Threshold <= Shares <= 16, Threshold >= 2 unless Shares == 1
	Shares, Threshold int

	// pkcs11
	PKCS11 PKCS11Options
}

// method is one way of protecting the root key at rest. Each method also
// has its own typed unseal entry point on Barrier (UnsealFile,
// UnsealPassphrase, SubmitShare, UnsealPKCS11), which rebuilds the kek from
// the record and the operator's input and calls unsealRecord.
type method interface {
	// create sets up new protection for rec, which has its Format, Method
	// and ClusterID set: it stores the method's public parameters in rec and
	// returns the kek to wrap the root key with.
	create(dataDir string, rec *Record, opts InitOptions) (created, error)
	// check validates the method's public parameters in a record read from
	// disk or received from a member.
	check(rec *Record) error
}

// created is what a method's create returns.
type created struct {
	kek    kek
	shares []string // shamir only: handed out once, never stored
	undo   func()   // removes what create left behind, if the record cannot be written; may be nil
}

// kek (key-encryption key) wraps and unwraps the root key: the unseal key,
// wherever it lives.
type kek interface {
	wrap(root, aad []byte) ([]byte, error)
	// unwrap returns errNoOpen when the blob does not authenticate.
	unwrap(blob, aad []byte) ([]byte, error)
	// close clears the key or releases the HSM session.
	close()
}

var errNoOpen = errors.New("seal: wrapped root key does not open")

// aesKEK is a software unseal key: AES-256-GCM, nonce | ciphertext | tag.
type aesKEK struct {
	key  []byte
	aead cipher.AEAD
}

// newAESKEK takes ownership of key and clears it on close (or on error).
func newAESKEK(key []byte) (*aesKEK, error) {
	aead, err := newGCM(key)
	if err != nil {
		clear(key)
		return nil, err
	}
	return &aesKEK{key: key, aead: aead}, nil
}

func (k *aesKEK) wrap(root, aad []byte) ([]byte, error) {
	return gcmSeal(k.aead, nil, root, aad), nil
}

func (k *aesKEK) unwrap(blob, aad []byte) ([]byte, error) {
	pt, ok := gcmOpen(k.aead, blob, aad)
	if !ok {
		return nil, errNoOpen
	}
	return pt, nil
}

func (k *aesKEK) close() { clear(k.key) }

// unsealRecord unwraps rec's root key with k and unseals the barrier.
// wrongKey is the method's error for a key that does not open it. keep is
// what the barrier retains (a copy) to protect a later root key with the same
// unseal key: the unseal key or PIN, nil for the file method.
func (b *Barrier) unsealRecord(rec *Record, k kek, wrongKey error, keep []byte) error {
	root, err := k.unwrap(rec.WrappedRoot, rootAAD(rec))
	if errors.Is(err, errNoOpen) {
		return wrongKey
	}
	if err != nil {
		return err
	}
	raw, err := rec.bytes()
	if err != nil {
		clear(root)
		return err
	}
	return b.install(root, rec.ClusterID, raw, recordState(rec, slices.Clone(keep)))
}

// loadRecord reads seal.json for an unseal with method m.
func (b *Barrier) loadRecord(dataDir string, m Method) (*Record, error) {
	if !b.Sealed() {
		return nil, ErrAlreadyUnsealed
	}
	rec, err := ReadRecord(dataDir)
	if err != nil {
		return nil, err
	}
	if rec.Method != m {
		return nil, fmt.Errorf("%w: seal.json uses %q, not %q", ErrWrongMethod, rec.Method, m)
	}
	return rec, nil
}
