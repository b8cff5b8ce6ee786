package seal

import (
	"fmt"
	"path/filepath"
)

// The pkcs11 method wraps the root key with a non-extractable AES-256 key
// that never leaves an HSM, through PKCS#11 (crypto11). The HSM does the
// AES-GCM itself (CKM_AES_GCM, 12-byte nonce chosen here, 16-byte tag). The
// record names the module, token and key; the PIN is an input, never stored.
// The cgo-only part is in pkcs11.go; pkcs11_nocgo.go refuses.

const (
	defaultHSMKeyLabel = "kmsd-unseal"
	hsmMechanism       = "CKM_AES_GCM"
	hsmKeyIDSize       = 16
)

// PKCS11Options say which HSM key protects the root key.
type PKCS11Options struct {
	Module     string // absolute path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string // the token, by label; or
	Slot       *int   // the token, by slot number (exactly one of TokenLabel and Slot)
	KeyLabel   string // the AES key's CKA_LABEL; generated in the token if absent; default "kmsd-unseal"
	PIN        string // the token's user PIN; never stored
}

// PKCS11Params are the public parameters of a pkcs11 record.
type PKCS11Params struct {
	Module     string `json:"module"`
	TokenLabel string `json:"token_label,omitempty"`
	Slot       *int   `json:"slot,omitempty"`
	KeyLabel   string `json:"key_label"`
	KeyID      []byte `json:"key_id"`    // the key's CKA_ID, base64
	Mechanism  string `json:"mechanism"` // "CKM_AES_GCM"
}

func (o PKCS11Options) validate() error {
	switch {
	case !filepath.IsAbs(o.Module):
		return fmt.Errorf("%w: the PKCS#11 module path %q is not absolute", ErrBadOptions, o.Module)
	case (o.TokenLabel == "") == (o.Slot == nil):
		return fmt.Errorf("%w: name the token by exactly one of its label and its slot", ErrBadOptions)
	case o.PIN == "":
		return fmt.Errorf("%w: the HSM needs the token's user PIN", ErrBadOptions)
	}
	return nil
}

func (pkcs11Method) check(rec *Record) error {
	p := rec.PKCS11
	switch {
	case p == nil:
		return fmt.Errorf("%w: pkcs11 record without parameters", ErrBadRecord)
	case !filepath.IsAbs(p.Module):
		return fmt.Errorf("%w: module path %q is not absolute", ErrBadRecord, p.Module)
	case (p.TokenLabel == "") == (p.Slot == nil):
		return fmt.Errorf("%w: the token is not named by exactly one of label and slot", ErrBadRecord)
	case p.KeyLabel == "" || len(p.KeyID) == 0 || len(p.KeyID) > 64:
		return fmt.Errorf("%w: the HSM key has no label or an id of %d bytes", ErrBadRecord, len(p.KeyID))
	case p.Mechanism != hsmMechanism:
		return fmt.Errorf("%w: mechanism %q, want %q", ErrBadRecord, p.Mechanism, hsmMechanism)
	}
	return nil
}

// UnsealPKCS11 unseals the barrier from <dataDir>/seal.json with the HSM key
// the record names, logging in with pin.
func (b *Barrier) UnsealPKCS11(dataDir string, pin string) error {
	rec, err := b.loadRecord(dataDir, MethodPKCS11)
	if err != nil {
		return err
	}
	p := rec.PKCS11
	k, err := openHSMKey(PKCS11Options{Module: p.Module, TokenLabel: p.TokenLabel, Slot: p.Slot, KeyLabel: p.KeyLabel, PIN: pin}, p.KeyID)
	if err != nil {
		return err
	}
	defer k.close()
	return b.unsealRecord(rec, k, fmt.Errorf("%w: HSM key %q does not open the root key in seal.json; use the key made for this seal.json", ErrHSM, p.KeyLabel), []byte(pin))
}
