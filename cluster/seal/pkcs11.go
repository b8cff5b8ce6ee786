//go:build cgo

package seal

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

type pkcs11Method struct{}

func (pkcs11Method) create(_ string, rec *Record, opts InitOptions) (created, error) {
	o := opts.PKCS11
	if o.KeyLabel == "" {
		o.KeyLabel = defaultHSMKeyLabel
	}
	if err := o.validate(); err != nil {
		return created{}, err
	}
	ctx, err := configureHSM(o)
	if err != nil {
		return created{}, err
	}
	key, id, made, err := findOrMakeKey(ctx, o.KeyLabel)
	if err != nil {
		closeHSM(ctx)
		return created{}, err
	}
	k, err := newHSMKEK(ctx, key)
	if err != nil {
		if made {
			_ = key.Delete()
		}
		closeHSM(ctx)
		return created{}, err
	}
	rec.PKCS11 = &PKCS11Params{Module: o.Module, TokenLabel: o.TokenLabel, Slot: o.Slot, KeyLabel: o.KeyLabel, KeyID: id, Mechanism: hsmMechanism}
	c := created{kek: k}
	if made {
		c.undo = func() { _ = key.Delete() }
	}
	return c, nil
}

// findOrMakeKey returns the one AES key labelled label, generating an
// AES-256 key (sensitive, non-extractable, random CKA_ID) if there is none.
func findOrMakeKey(ctx *crypto11.Context, label string) (key *crypto11.SecretKey, id []byte, made bool, err error) {
	keys, err := ctx.FindKeys(nil, []byte(label))
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: find key %q: %v", ErrHSM, label, err)
	}
	switch len(keys) {
	case 0:
		id = make([]byte, hsmKeyIDSize)
		randRead(id)
		key, err = ctx.GenerateSecretKeyWithLabel(id, []byte(label), 8*keySize, crypto11.CipherAES)
		if err != nil {
			return nil, nil, false, fmt.Errorf("%w: generate AES-256 key %q: %v", ErrHSM, label, err)
		}
		return key, id, true, nil
	case 1:
		key = keys[0]
	default:
		return nil, nil, false, fmt.Errorf("%w: %d keys are labelled %q; give the key a label of its own", ErrHSM, len(keys), label)
	}
	a, err := ctx.GetAttribute(key, crypto11.CkaId)
	if err != nil || len(a.Value) == 0 || len(a.Value) > 64 {
		return nil, nil, false, fmt.Errorf("%w: key %q has no usable CKA_ID; give it one", ErrHSM, label)
	}
	l, err := ctx.GetAttribute(key, crypto11.CkaValueLen)
	if err != nil || attrUint(l.Value) != keySize {
		return nil, nil, false, fmt.Errorf("%w: key %q is not an AES-256 key", ErrHSM, label)
	}
	return key, a.Value, false, nil
}

// attrUint decodes a CK_ULONG attribute (native byte order).
func attrUint(v []byte) uint64 {
	switch len(v) {
	case 8:
		return binary.NativeEndian.Uint64(v)
	case 4:
		return uint64(binary.NativeEndian.Uint32(v))
	}
	return 0
}

// openHSMKey logs in and finds the key a record names.
func openHSMKey(o PKCS11Options, id []byte) (kek, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ctx, err := configureHSM(o)
	if err != nil {
		return nil, err
	}
	key, err := ctx.FindKey(id, []byte(o.KeyLabel))
	if err != nil || key == nil {
		closeHSM(ctx)
		return nil, fmt.Errorf("%w: key %q with the id in seal.json is not in the token", ErrHSM, o.KeyLabel)
	}
	k, err := newHSMKEK(ctx, key)
	if err != nil {
		closeHSM(ctx)
		return nil, err
	}
	return k, nil
}

// hsmMu serializes this package's use of PKCS#11, from login to close.
// The library's login state is per process: crypto11 ignores
// CKR_USER_ALREADY_LOGGED_IN, so while one context is logged in a second
// one would log in with any PIN at all. One context at a time keeps every
// PIN checked.
var hsmMu sync.Mutex

// configureHSM logs in to the token and holds hsmMu until closeHSM.
func configureHSM(o PKCS11Options) (*crypto11.Context, error) {
	hsmMu.Lock()
	ctx, err := configure(o)
	if err != nil {
		hsmMu.Unlock()
	}
	return ctx, err
}

func closeHSM(ctx *crypto11.Context) {
	_ = ctx.Close()
	hsmMu.Unlock()
}

func configure(o PKCS11Options) (*crypto11.Context, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: o.Module, TokenLabel: o.TokenLabel, SlotNumber: o.Slot, Pin: o.PIN, GCMIVLength: nonceSize})
	for _, code := range []uint{pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE} {
		if errors.Is(err, pkcs11.Error(code)) {
			return nil, ErrWrongPIN
		}
	}
	if errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_LOCKED)) {
		return nil, fmt.Errorf("%w: the token's user PIN is locked; unlock it with the SO PIN", ErrHSM)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open token (module %s): %v", ErrHSM, o.Module, err)
	}
	return ctx, nil
}

// hsmKEK wraps the root key with AES-GCM inside the HSM.
type hsmKEK struct {
	ctx    *crypto11.Context
	aead   cipher.AEAD
	closed sync.Once
}

func newHSMKEK(ctx *crypto11.Context, key *crypto11.SecretKey) (*hsmKEK, error) {
	aead, err := key.NewGCM()
	if err != nil {
		return nil, fmt.Errorf("%w: the key cannot do AES-GCM: %v", ErrHSM, err)
	}
	if aead.NonceSize() != nonceSize || aead.Overhead() != tagSize {
		return nil, fmt.Errorf("%w: AES-GCM with a %d-byte nonce and %d-byte tag, want %d and %d", ErrHSM, aead.NonceSize(), aead.Overhead(), nonceSize, tagSize)
	}
	return &hsmKEK{ctx: ctx, aead: aead}, nil
}

func (k *hsmKEK) wrap(root, aad []byte) (out []byte, err error) {
	// crypto11's AEAD panics when the token fails to encrypt.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: encrypt: %v", ErrHSM, r)
		}
	}()
	return gcmSeal(k.aead, nil, root, aad), nil
}

func (k *hsmKEK) unwrap(blob, aad []byte) ([]byte, error) {
	if len(blob) < nonceSize+tagSize {
		return nil, errNoOpen
	}
	pt, err := k.aead.Open(nil, blob[:nonceSize], blob[nonceSize:], aad)
	if err != nil {
		// SoftHSM2 reports a failed GCM tag as CKR_GENERAL_ERROR, and
		// crypto11 flattens the error to text, so a wrong key cannot be
		// told apart from a failing HSM here.
		return nil, fmt.Errorf("%w: the HSM did not open the root key in seal.json (%v): the key is not the one made for this seal.json, seal.json was altered, or the HSM failed", ErrHSM, err)
	}
	return pt, nil
}

func (k *hsmKEK) close() { k.closed.Do(func() { closeHSM(k.ctx) }) }
