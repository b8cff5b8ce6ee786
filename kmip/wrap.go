package kmip

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers crypto.SHA1 for RSA-OAEP
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"reflect"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/keywrap"
)

// Key wrapping (KMIP 1.4 §2.1.5 Key Wrapping Data, §2.1.6 Key Wrapping
// Specification): the Encrypt wrapping method with AES Key Wrap (RFC 3394),
// AES Key Wrap with Padding (RFC 5649) or RSA-OAEP. MAC/signature wrapping
// is refused.

// Bounds on wrapped material.
const (
	maxWrappedBytes = 16 << 10 // a wrapped Key Value, with its attributes
	maxWrapAttrs    = 64       // Attribute Names in one Key Wrapping Specification
	maxIVBytes      = 64       // IV/Counter/Nonce of a registered wrapped key
	maxKeyIDBytes   = 1024     // Unique Identifier of a wrapping key
)

var errUnwrapFailed = errorf(kmip.ResultReasonCryptographicFailure, "the key could not be unwrapped with the named key")

// wrapKey is a key, held here, that wraps or unwraps key material.
type wrapKey struct {
	params kmip.CryptographicParameters // effective parameters
	echo   *kmip.CryptographicParameters
	aes    []byte
	pub    *rsa.PublicKey
	priv   *rsa.PrivateKey
}

// wrapPurpose says what a wrapping key is about to do.
type wrapPurpose int

const (
	forWrap wrapPurpose = iota
	forUnwrap
)

// wrappingKey resolves the key that Encryption Key Information names. It
// must be the client's own key, in a state that allows the purpose (only an
// Active key protects; KMIP 1.4 §3.22), with a Cryptographic Usage Mask that
// allows it, and Cryptographic Parameters that match one of its instances:
// "If Cryptographic Parameters are omitted, then the server SHALL use the
// Cryptographic Parameters attribute with the lowest Attribute Index ... If
// the corresponding key does not have any Cryptographic Parameters
// attribute, or if no match is found, then an error is returned" (§2.1.6).
func (s *Service) wrappingKey(ctx context.Context, rc *reqCtx, eki *kmip.EncryptionKeyInformation, purpose wrapPurpose) (*wrapKey, error) {
	if eki == nil || eki.UniqueIdentifier == "" || len(eki.UniqueIdentifier) > maxKeyIDBytes {
		return nil, errorf(kmip.ResultReasonInvalidField, "Encryption Key Information must name the wrapping key")
	}
	ko, err := s.usableKey(ctx, rc, eki.UniqueIdentifier, purpose)
	if err != nil {
		return nil, err
	}
	params, ok := matchParams(eki.CryptographicParameters, ko.AttrAll(kmip.AttributeNameCryptographicParameters))
	if !ok {
		return nil, errorf(kmip.ResultReasonItemNotFound, "the wrapping key has no Cryptographic Parameters matching the request")
	}
	k := &wrapKey{params: params, echo: eki.CryptographicParameters}
	if k.echo == nil {
		k.echo = &params
	}
	obj, err := s.openObject(ko)
	if err != nil {
		return nil, err
	}
	switch key := obj.(type) {
	case *kmip.SymmetricKey:
		if key.KeyBlock.KeyWrappingData != nil {
			return nil, errorf(kmip.ResultReasonPermissionDenied, "the wrapping key is itself held wrapped")
		}
		b, ok := keyformat.PlainBytes(&key.KeyBlock)
		if !ok || key.KeyBlock.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES {
			return nil, errorf(kmip.ResultReasonFeatureNotSupported, "only AES and RSA keys wrap keys here")
		}
		k.aes = b
	case *kmip.PublicKey:
		if k.pub, err = key.RSA(); err != nil {
			return nil, errorf(kmip.ResultReasonFeatureNotSupported, "only AES and RSA keys wrap keys here")
		}
		if purpose == forUnwrap {
			// The public key named in Key Wrapping Data unwraps with the
			// private key it links to.
			if k.priv, err = s.linkedPrivateKey(ctx, rc, ko); err != nil {
				return nil, err
			}
		}
	case *kmip.PrivateKey:
		if purpose == forWrap {
			return nil, errorf(kmip.ResultReasonPermissionDenied, "a private key does not wrap; name its public key")
		}
		if k.priv, err = key.RSA(); err != nil {
			return nil, errorf(kmip.ResultReasonFeatureNotSupported, "only AES and RSA keys wrap keys here")
		}
	}
	if err := k.checkParams(); err != nil {
		k.close()
		return nil, err
	}
	return k, nil
}

// usableKey returns the key id names if it may wrap or unwrap now.
func (s *Service) usableKey(ctx context.Context, rc *reqCtx, id string, purpose wrapPurpose) (*fsm.Object, error) {
	ko, err := s.object(ctx, rc, id)
	if err != nil {
		if e, _ := clientError(err); e.Reason == kmip.ResultReasonItemNotFound {
			if purpose == forUnwrap {
				return nil, errorf(kmip.ResultReasonItemNotFound, "the key that unwraps this object is not held here")
			}
			return nil, errorf(kmip.ResultReasonItemNotFound, "wrapping key not found")
		}
		return nil, err
	}
	switch ko.ObjectType() {
	case kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePublicKey, kmip.ObjectTypePrivateKey:
	default:
		return nil, errorf(kmip.ResultReasonIllegalOperation, "the wrapping key is not a key")
	}
	mask, _ := ko.Attr(kmip.AttributeNameCryptographicUsageMask)
	usage, _ := mask.(kmip.CryptographicUsageMask)
	state := fsm.EffectiveState(ko, rc.now)
	if purpose == forWrap {
		if state != kmip.StateActive {
			return nil, errorf(kmip.ResultReasonPermissionDenied, "the wrapping key is not Active")
		}
		if usage&kmip.CryptographicUsageWrapKey == 0 {
			return nil, errorf(kmip.ResultReasonPermissionDenied, "the wrapping key's usage mask does not allow Wrap Key")
		}
		return ko, nil
	}
	// Deactivated and Compromised keys may still process (unwrap) data.
	if state != kmip.StateActive && state != kmip.StateDeactivated && state != kmip.StateCompromised {
		return nil, errorf(kmip.ResultReasonPermissionDenied, "the unwrapping key is not in a state that allows its use")
	}
	if usage&(kmip.CryptographicUsageUnwrapKey|kmip.CryptographicUsageWrapKey) == 0 {
		return nil, errorf(kmip.ResultReasonPermissionDenied, "the unwrapping key's usage mask allows neither Unwrap Key nor Wrap Key")
	}
	return ko, nil
}

// linkedPrivateKey follows a public key's Private Key Link.
func (s *Service) linkedPrivateKey(ctx context.Context, rc *reqCtx, pub *fsm.Object) (*rsa.PrivateKey, error) {
	for _, v := range pub.AttrAll(kmip.AttributeNameLink) {
		l, ok := v.(kmip.Link)
		if !ok || l.LinkType != kmip.LinkTypePrivateKeyLink || l.LinkedObjectIdentifier == "" {
			continue
		}
		po, err := s.usableKey(ctx, rc, l.LinkedObjectIdentifier, forUnwrap)
		if err != nil {
			return nil, err
		}
		obj, err := s.openObject(po)
		if err != nil {
			return nil, err
		}
		if key, ok := obj.(*kmip.PrivateKey); ok {
			if priv, err := key.RSA(); err == nil {
				return priv, nil
			}
		}
		break
	}
	return nil, errorf(kmip.ResultReasonItemNotFound, "the private key that unwraps this object is not held here")
}

// matchParams picks the stored Cryptographic Parameters instance to use:
// the first (lowest index) when none are given, otherwise the first whose
// fields include every field given.
func matchParams(given *kmip.CryptographicParameters, stored []any) (kmip.CryptographicParameters, bool) {
	for _, v := range stored {
		p, ok := v.(kmip.CryptographicParameters)
		if !ok {
			continue
		}
		if given == nil || paramsCover(p, *given) {
			return p, true
		}
	}
	return kmip.CryptographicParameters{}, false
}

func paramsCover(p, given kmip.CryptographicParameters) bool {
	pv, gv := reflect.ValueOf(p), reflect.ValueOf(given)
	for i := range gv.NumField() {
		if g := gv.Field(i); !g.IsZero() && !reflect.DeepEqual(g.Interface(), pv.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// checkParams refuses parameters this server cannot honour before any
// material is touched.
func (k *wrapKey) checkParams() error {
	p := k.params
	if k.aes != nil {
		if p.CryptographicAlgorithm != 0 && p.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES {
			return errorf(kmip.ResultReasonInvalidField, "the Cryptographic Parameters name another algorithm than the wrapping key's")
		}
		if p.PaddingMethod != 0 && p.PaddingMethod != kmip.PaddingMethodNone {
			return errorf(kmip.ResultReasonFeatureNotSupported, "AES key wrapping takes no Padding Method")
		}
		switch p.BlockCipherMode {
		case 0, kmip.BlockCipherModeNISTKeyWrap, kmip.BlockCipherModeAESKeyWrapPadding:
			return nil
		}
		return errorf(kmip.ResultReasonFeatureNotSupported, "AES keys wrap with Block Cipher Mode NIST Key Wrap or AES Key Wrap Padding only")
	}
	if p.CryptographicAlgorithm != 0 && p.CryptographicAlgorithm != kmip.CryptographicAlgorithmRSA {
		return errorf(kmip.ResultReasonInvalidField, "the Cryptographic Parameters name another algorithm than the wrapping key's")
	}
	if p.PaddingMethod != 0 && p.PaddingMethod != kmip.PaddingMethodOAEP {
		return errorf(kmip.ResultReasonFeatureNotSupported, "RSA keys wrap with Padding Method OAEP only")
	}
	if p.MaskGenerator != 0 && p.MaskGenerator != kmip.MaskGeneratorMGF1 {
		return errorf(kmip.ResultReasonFeatureNotSupported, "RSA-OAEP supports the MGF1 mask generator only")
	}
	if _, ok := oaepHash(p.HashingAlgorithm); !ok {
		return errorf(kmip.ResultReasonFeatureNotSupported, "Hashing Algorithm not supported for RSA-OAEP")
	}
	if _, ok := oaepHash(p.MaskGeneratorHashingAlgorithm); !ok {
		return errorf(kmip.ResultReasonFeatureNotSupported, "Mask Generator Hashing Algorithm not supported for RSA-OAEP")
	}
	return nil
}

// oaepHash maps a KMIP hashing algorithm to Go's; both the OAEP hash and
// the MGF1 hash default to SHA-1 (KMIP 1.4 §3.6, PKCS #1).
func oaepHash(h kmip.HashingAlgorithm) (crypto.Hash, bool) {
	switch h {
	case 0, kmip.HashingAlgorithmSHA_1:
		return crypto.SHA1, true
	case kmip.HashingAlgorithmSHA_224:
		return crypto.SHA224, true
	case kmip.HashingAlgorithmSHA_256:
		return crypto.SHA256, true
	case kmip.HashingAlgorithmSHA_384:
		return crypto.SHA384, true
	case kmip.HashingAlgorithmSHA_512:
		return crypto.SHA512, true
	}
	return 0, false
}

func (k *wrapKey) oaep() *rsa.OAEPOptions {
	h, _ := oaepHash(k.params.HashingAlgorithm)
	mgf, _ := oaepHash(k.params.MaskGeneratorHashingAlgorithm)
	return &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: k.params.PSource}
}

// close clears the wrapping key's material.
func (k *wrapKey) close() {
	clear(k.aes)
}

// wrap encrypts key material or a TTLV-encoded Key Value.
func (k *wrapKey) wrap(p []byte) ([]byte, error) {
	if k.aes == nil {
		c, err := rsa.EncryptOAEPWithOptions(rand.Reader, k.pub, p, k.oaep())
		if errors.Is(err, rsa.ErrMessageTooLong) {
			return nil, errorf(kmip.ResultReasonInvalidField, "the key value is too long for RSA-OAEP with this wrapping key")
		}
		return c, err
	}
	if k.params.BlockCipherMode == kmip.BlockCipherModeAESKeyWrapPadding {
		return keywrap.WrapPad(k.aes, p)
	}
	c, err := keywrap.Wrap(k.aes, p)
	if errors.Is(err, keywrap.ErrInput) {
		return nil, errorf(kmip.ResultReasonInvalidField, "NIST Key Wrap needs a multiple of 8 bytes, at least 16; use AES Key Wrap Padding")
	}
	return c, err
}

// unwrap decrypts what wrap produced; any failure is a Cryptographic
// Failure that says nothing about the material.
func (k *wrapKey) unwrap(c []byte) ([]byte, error) {
	var p []byte
	var err error
	switch {
	case k.priv != nil:
		p, err = k.priv.Decrypt(nil, c, k.oaep())
	case k.aes != nil && k.params.BlockCipherMode == kmip.BlockCipherModeAESKeyWrapPadding:
		p, err = keywrap.UnwrapPad(k.aes, c)
	case k.aes != nil:
		p, err = keywrap.Unwrap(k.aes, c)
	default:
		return nil, errUnwrapFailed
	}
	if err != nil {
		return nil, errUnwrapFailed
	}
	return p, nil
}
