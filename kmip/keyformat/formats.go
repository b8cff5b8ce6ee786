package keyformat

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"math/big"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// Parsing and encoding of Public and Private Keys in the Key Format Types
// of KMIP 1.4 §9.1.3.2.3: PKCS#1, PKCS#8, X.509 SubjectPublicKeyInfo, RFC 5915
// EC Private Key and the Transparent RSA, EC and ECDSA structures.
var (
	// ErrFormatUnsupported answers a request for a Key Format Type the
	// object cannot be given in.
	ErrFormatUnsupported = kmiperr.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format type not supported for this object")

	errKeyMaterial = kmiperr.Errorf(kmip.ResultReasonInvalidField, "key material is not a valid key in its Key Format Type")
	errNoKeyValue  = kmiperr.Errorf(kmip.ResultReasonInvalidField, "the key block holds no plain key value")
)

// PlainMaterial returns a key block's unwrapped key material.
func PlainMaterial(kb *kmip.KeyBlock) (*kmip.KeyMaterial, error) {
	if kb.KeyWrappingData != nil || (kb.KeyValue != nil && kb.KeyValue.Wrapped != nil) {
		return nil, kmiperr.Errorf(kmip.ResultReasonFeatureNotSupported, "wrapped key material cannot be read")
	}
	if kb.KeyValue == nil || kb.KeyValue.Plain == nil {
		return nil, errNoKeyValue
	}
	return &kb.KeyValue.Plain.KeyMaterial, nil
}

// derBytes returns the byte-string key material of a DER format.
func derBytes(km *kmip.KeyMaterial) ([]byte, error) {
	if km.Bytes == nil || len(*km.Bytes) == 0 || len(*km.Bytes) > maxAsymmetricBytes {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "key material must hold 1 to %d bytes", maxAsymmetricBytes)
	}
	return *km.Bytes, nil
}

// ParsePrivateKey decodes a private key block into an *rsa.PrivateKey or
// an *ecdsa.PrivateKey.
func ParsePrivateKey(kb *kmip.KeyBlock) (crypto.Signer, error) {
	km, err := PlainMaterial(kb)
	if err != nil {
		return nil, err
	}
	var key any
	switch kb.KeyFormatType {
	case kmip.KeyFormatTypePKCS_1, kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeECPrivateKey:
		der, err := derBytes(km)
		if err != nil {
			return nil, err
		}
		switch kb.KeyFormatType {
		case kmip.KeyFormatTypePKCS_1:
			key, err = x509.ParsePKCS1PrivateKey(der)
		case kmip.KeyFormatTypePKCS_8:
			key, err = x509.ParsePKCS8PrivateKey(der)
		default:
			key, err = x509.ParseECPrivateKey(der)
		}
		if err != nil {
			return nil, errKeyMaterial
		}
	case kmip.KeyFormatTypeTransparentRSAPrivateKey:
		return transparentRSAPrivate(km.TransparentRSAPrivateKey)
	case kmip.KeyFormatTypeTransparentECPrivateKey:
		return transparentECPrivate(km.TransparentECPrivateKey)
	case kmip.KeyFormatTypeTransparentECDSAPrivateKey:
		return transparentECPrivate((*kmip.TransparentECPrivateKey)(km.TransparentECDSAPrivateKey))
	default:
		return nil, kmiperr.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format type not supported for private keys")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "multi-prime RSA keys are not supported")
		}
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "key type not supported: RSA and EC keys are")
}

func transparentRSAPrivate(t *kmip.TransparentRSAPrivateKey) (crypto.Signer, error) {
	// Go's RSA needs the primes; a key given by modulus and exponents only
	// cannot be used or converted, so it is refused.
	if t == nil || t.PrivateExponent == nil || t.PublicExponent == nil || t.P == nil || t.Q == nil {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "Transparent RSA Private Key needs the modulus, both exponents and both primes")
	}
	if t.Modulus.BitLen() > maxRSARegisterBits || !t.PublicExponent.IsInt64() || t.PublicExponent.Int64() > maxRSAExponent {
		return nil, errKeyMaterial
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Set(&t.Modulus), E: int(t.PublicExponent.Int64())},
		D:         new(big.Int).Set(t.PrivateExponent),
		Primes:    []*big.Int{new(big.Int).Set(t.P), new(big.Int).Set(t.Q)},
	}
	if _, err := FactsOf(&k.PublicKey); err != nil {
		return nil, err
	}
	if k.Validate() != nil {
		return nil, errKeyMaterial
	}
	k.Precompute()
	return k, nil
}

func transparentECPrivate(t *kmip.TransparentECPrivateKey) (crypto.Signer, error) {
	if t == nil {
		return nil, errKeyMaterial
	}
	c, ok := CurveWhere(func(c Curve) bool { return c.ID == t.RecommendedCurve })
	if !ok {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "Recommended Curve not supported: P-224, P-256, P-384 and P-521 are")
	}
	size := (int(c.Bits) + 7) / 8
	if t.D.Sign() <= 0 || t.D.BitLen() > size*8 {
		return nil, errKeyMaterial
	}
	k, err := ecdsa.ParseRawPrivateKey(c.Curve, t.D.FillBytes(make([]byte, size)))
	if err != nil {
		return nil, errKeyMaterial
	}
	return k, nil
}

// ParsePublicKey decodes a public key block into an *rsa.PublicKey or an
// *ecdsa.PublicKey.
func ParsePublicKey(kb *kmip.KeyBlock) (crypto.PublicKey, error) {
	km, err := PlainMaterial(kb)
	if err != nil {
		return nil, err
	}
	switch kb.KeyFormatType {
	case kmip.KeyFormatTypePKCS_1, kmip.KeyFormatTypeX_509:
		der, err := derBytes(km)
		if err != nil {
			return nil, err
		}
		var key any
		if kb.KeyFormatType == kmip.KeyFormatTypePKCS_1 {
			key, err = x509.ParsePKCS1PublicKey(der)
		} else {
			key, err = x509.ParsePKIXPublicKey(der)
		}
		if err != nil {
			return nil, errKeyMaterial
		}
		return key, nil
	case kmip.KeyFormatTypeTransparentRSAPublicKey:
		t := km.TransparentRSAPublicKey
		if t == nil || t.Modulus.BitLen() > maxRSARegisterBits || !t.PublicExponent.IsInt64() ||
			t.PublicExponent.Int64() < 3 || t.PublicExponent.Int64() > maxRSAExponent || t.Modulus.Bit(0) == 0 {
			return nil, errKeyMaterial
		}
		return &rsa.PublicKey{N: new(big.Int).Set(&t.Modulus), E: int(t.PublicExponent.Int64())}, nil
	case kmip.KeyFormatTypeTransparentECPublicKey:
		return transparentECPublic(km.TransparentECPublicKey)
	case kmip.KeyFormatTypeTransparentECDSAPublicKey:
		return transparentECPublic((*kmip.TransparentECPublicKey)(km.TransparentECDSAPublicKey))
	}
	return nil, kmiperr.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format type not supported for public keys")
}

func transparentECPublic(t *kmip.TransparentECPublicKey) (crypto.PublicKey, error) {
	if t == nil {
		return nil, errKeyMaterial
	}
	c, ok := CurveWhere(func(c Curve) bool { return c.ID == t.RecommendedCurve })
	if !ok {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "Recommended Curve not supported: P-224, P-256, P-384 and P-521 are")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(c.Curve, t.QString)
	if err != nil {
		return nil, errKeyMaterial
	}
	return k, nil
}

// publicOf parses either half of a key pair and returns its public key.
func publicOf(obj kmip.Object) (crypto.PublicKey, error) {
	switch o := obj.(type) {
	case *kmip.PublicKey:
		return ParsePublicKey(&o.KeyBlock)
	case *kmip.PrivateKey:
		k, err := ParsePrivateKey(&o.KeyBlock)
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	}
	return nil, ErrFormatUnsupported
}

// ConvertAsymmetric re-encodes a Public or Private Key in another Key
// Format Type for Get. A key the server cannot parse (a wrapped or
// encrypted one, or one on a curve Go lacks) exists in its stored format
// only.
func ConvertAsymmetric(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error) {
	kb := BlockOf(obj)
	var km kmip.KeyMaterial
	switch o := obj.(type) {
	case *kmip.PrivateKey:
		key, err := ParsePrivateKey(&o.KeyBlock)
		if err != nil {
			return nil, ErrFormatUnsupported
		}
		if km, err = EncodePrivateKey(key, format); err != nil {
			return nil, err
		}
	case *kmip.PublicKey:
		key, err := ParsePublicKey(&o.KeyBlock)
		if err != nil {
			return nil, ErrFormatUnsupported
		}
		if km, err = EncodePublicKey(key, format); err != nil {
			return nil, err
		}
	default:
		return nil, ErrFormatUnsupported
	}
	out := kmip.KeyBlock{
		KeyFormatType:          format,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: km}},
		CryptographicAlgorithm: kb.CryptographicAlgorithm,
		CryptographicLength:    kb.CryptographicLength,
	}
	if obj.ObjectType() == kmip.ObjectTypePrivateKey {
		return &kmip.PrivateKey{KeyBlock: out}, nil
	}
	return &kmip.PublicKey{KeyBlock: out}, nil
}

func derMaterial(der []byte, err error) (kmip.KeyMaterial, error) {
	if err != nil {
		return kmip.KeyMaterial{}, ErrFormatUnsupported
	}
	return kmip.KeyMaterial{Bytes: &der}, nil
}

// EncodePrivateKey encodes a private key in one of the formats KMIP
// defines for its type.
func EncodePrivateKey(key crypto.Signer, format kmip.KeyFormatType) (kmip.KeyMaterial, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		switch format {
		case kmip.KeyFormatTypePKCS_1:
			return derMaterial(x509.MarshalPKCS1PrivateKey(k), nil)
		case kmip.KeyFormatTypePKCS_8:
			return derMaterial(x509.MarshalPKCS8PrivateKey(k))
		case kmip.KeyFormatTypeTransparentRSAPrivateKey:
			return kmip.KeyMaterial{TransparentRSAPrivateKey: transparentRSA(k)}, nil
		}
	case *ecdsa.PrivateKey:
		switch format {
		case kmip.KeyFormatTypePKCS_8:
			return derMaterial(x509.MarshalPKCS8PrivateKey(k))
		case kmip.KeyFormatTypeECPrivateKey:
			return derMaterial(x509.MarshalECPrivateKey(k))
		case kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey:
			facts, err := FactsOf(&k.PublicKey)
			d, derr := k.Bytes()
			if err != nil || derr != nil {
				return kmip.KeyMaterial{}, ErrFormatUnsupported
			}
			t := &kmip.TransparentECPrivateKey{RecommendedCurve: facts.Curve}
			t.D.SetBytes(d)
			clear(d)
			if format == kmip.KeyFormatTypeTransparentECPrivateKey {
				return kmip.KeyMaterial{TransparentECPrivateKey: t}, nil
			}
			return kmip.KeyMaterial{TransparentECDSAPrivateKey: (*kmip.TransparentECDSAPrivateKey)(t)}, nil
		}
	}
	return kmip.KeyMaterial{}, ErrFormatUnsupported
}

// transparentRSA spells out an RSA private key; the CRT values are computed
// here rather than taken from the precomputed ones.
func transparentRSA(k *rsa.PrivateKey) *kmip.TransparentRSAPrivateKey {
	p, q := k.Primes[0], k.Primes[1]
	one := big.NewInt(1)
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	t := &kmip.TransparentRSAPrivateKey{
		PrivateExponent: new(big.Int).Set(k.D),
		PublicExponent:  big.NewInt(int64(k.E)),
		P:               new(big.Int).Set(p),
		Q:               new(big.Int).Set(q),
		PrimeExponentP:  new(big.Int).Mod(k.D, pm1),
		PrimeExponentQ:  new(big.Int).Mod(k.D, qm1),
		CRTCoefficient:  new(big.Int).ModInverse(q, p),
	}
	t.Modulus.Set(k.N)
	return t
}

// EncodePublicKey encodes a public key in one of the formats KMIP defines
// for its type.
func EncodePublicKey(key crypto.PublicKey, format kmip.KeyFormatType) (kmip.KeyMaterial, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch format {
		case kmip.KeyFormatTypePKCS_1:
			return derMaterial(x509.MarshalPKCS1PublicKey(k), nil)
		case kmip.KeyFormatTypeX_509:
			return derMaterial(x509.MarshalPKIXPublicKey(k))
		case kmip.KeyFormatTypeTransparentRSAPublicKey:
			t := &kmip.TransparentRSAPublicKey{}
			t.Modulus.Set(k.N)
			t.PublicExponent.SetInt64(int64(k.E))
			return kmip.KeyMaterial{TransparentRSAPublicKey: t}, nil
		}
	case *ecdsa.PublicKey:
		switch format {
		case kmip.KeyFormatTypeX_509:
			return derMaterial(x509.MarshalPKIXPublicKey(k))
		case kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyFormatTypeTransparentECDSAPublicKey:
			facts, err := FactsOf(k)
			q, qerr := k.Bytes()
			if err != nil || qerr != nil {
				return kmip.KeyMaterial{}, ErrFormatUnsupported
			}
			t := &kmip.TransparentECPublicKey{RecommendedCurve: facts.Curve, QString: q}
			if format == kmip.KeyFormatTypeTransparentECPublicKey {
				return kmip.KeyMaterial{TransparentECPublicKey: t}, nil
			}
			return kmip.KeyMaterial{TransparentECDSAPublicKey: (*kmip.TransparentECDSAPublicKey)(t)}, nil
		}
	}
	return kmip.KeyMaterial{}, ErrFormatUnsupported
}
