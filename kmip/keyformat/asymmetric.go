package keyformat

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// Public and Private Key objects (KMIP 1.4 §2.2.3, §2.2.4). A key is stored
// in the format the client registered it in, or for generated keys in the
// formats the OASIS test vectors read back without asking for one: PKCS#1
// for both RSA halves, PKCS#8 and X.509 SubjectPublicKeyInfo for EC.

// MinRSABits is the smallest RSA modulus this server registers or generates.
const MinRSABits = 1024

// Bounds on registered asymmetric keys.
const (
	maxAsymmetricBytes = 16 << 10 // DER encodings; an RSA-8192 PKCS#1 private key is under 5 KiB
	maxRSARegisterBits = 8192
	maxRSAExponent     = 1<<31 - 1
	maxECBits          = 571 // the largest curve KMIP names (K-571, B-571)
)

// Curve is an elliptic curve this server generates and converts keys on.
type Curve struct {
	ID    kmip.RecommendedCurve
	Curve elliptic.Curve
	Bits  int32
}

var curves = []Curve{
	{kmip.RecommendedCurveP_224, elliptic.P224(), 224},
	{kmip.RecommendedCurveP_256, elliptic.P256(), 256},
	{kmip.RecommendedCurveP_384, elliptic.P384(), 384},
	{kmip.RecommendedCurveP_521, elliptic.P521(), 521},
}

// CurveWhere returns the first curve, in ascending size, that match accepts.
func CurveWhere(match func(Curve) bool) (Curve, bool) {
	i := slices.IndexFunc(curves, match)
	if i < 0 {
		return Curve{}, false
	}
	return curves[i], true
}

// ecAlgorithms may label an elliptic curve key: the key material is the
// same whatever it is meant for.
var ecAlgorithms = []kmip.CryptographicAlgorithm{
	kmip.CryptographicAlgorithmEC, kmip.CryptographicAlgorithmECDSA,
	kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV,
}

// Facts is what the key material says about itself.
type Facts struct {
	Known bool // false: encrypted material, only the client's attributes describe it
	RSA   bool
	Bits  int32
	Curve kmip.RecommendedCurve // EC keys only
}

// IsEC reports whether alg may label an elliptic curve key.
func IsEC(alg kmip.CryptographicAlgorithm) bool { return slices.Contains(ecAlgorithms, alg) }

// Allows reports whether a key with these facts may carry alg as its
// Cryptographic Algorithm.
func (f Facts) allows(alg kmip.CryptographicAlgorithm) bool {
	if f.RSA {
		return alg == kmip.CryptographicAlgorithmRSA
	}
	return slices.Contains(ecAlgorithms, alg)
}

// FactsOf checks a public key against the sizes this server accepts.
func FactsOf(pub crypto.PublicKey) (Facts, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < MinRSABits || bits > maxRSARegisterBits {
			return Facts{}, kmiperr.Errorf(kmip.ResultReasonInvalidField, "RSA modulus must have %d to %d bits", MinRSABits, maxRSARegisterBits)
		}
		return Facts{Known: true, RSA: true, Bits: int32(bits)}, nil
	case *ecdsa.PublicKey:
		if c, ok := CurveWhere(func(c Curve) bool { return c.Curve == k.Curve }); ok {
			return Facts{Known: true, Bits: c.Bits, Curve: c.ID}, nil
		}
	}
	return Facts{}, kmiperr.Errorf(kmip.ResultReasonInvalidField, "key type not supported: RSA and EC keys on P-224, P-256, P-384 and P-521 are")
}

// Inspect reads the facts of a Public or Private Key: from the key
// parsed by Go when it can, else from the structure of a key it stores
// without using (see foreign.go).
func Inspect(obj kmip.Object) (Facts, error) {
	pub, err := publicOf(obj)
	if err == nil {
		return FactsOf(pub)
	}
	if errors.Is(err, errKeyMaterial) {
		if f, ok := foreignFacts(BlockOf(obj), obj.ObjectType() == kmip.ObjectTypePrivateKey); ok {
			return f, nil
		}
	}
	return Facts{}, err
}

// ValidateAsymmetric checks a registered Public or Private Key by parsing
// it, and checks the Cryptographic Algorithm, Length and Domain Parameters
// the client gave, in the key block or as attributes, against the material.
// It completes the key block with the algorithm and length when the client
// left them out (KMIP 1.4 §2.1.3 lets a client omit them "only if this
// information is available from the Key Value"), so that Get and the
// derived attributes carry them.
func ValidateAsymmetric(obj kmip.Object, attrs []kmip.Attribute) error {
	kb := BlockOf(obj)
	if kb.KeyCompressionType != 0 {
		return kmiperr.Errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	facts, err := Inspect(obj)
	if err != nil {
		return err
	}
	alg, err := Agreed(kb.CryptographicAlgorithm, attrs, kmip.AttributeNameCryptographicAlgorithm)
	if err != nil {
		return err
	}
	length, err := Agreed(kb.CryptographicLength, attrs, kmip.AttributeNameCryptographicLength)
	if err != nil {
		return err
	}
	if !facts.Known {
		if facts, err = clientFacts(alg, length); err != nil {
			return err
		}
	}
	if alg != 0 && !facts.allows(alg) {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm does not match the key material")
	}
	if length != 0 && length != facts.Bits {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Cryptographic Length does not match the key material")
	}
	if dp, ok := AttrValue[kmip.CryptographicDomainParameters](attrs, kmip.AttributeNameCryptographicDomainParameters); ok &&
		dp.RecommendedCurve != 0 && facts.Curve != 0 && dp.RecommendedCurve != facts.Curve {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Recommended Curve does not match the key material")
	}
	if alg == 0 {
		// ECDSA names an EC key in every version; EC itself is KMIP 1.3+.
		alg = kmip.CryptographicAlgorithmECDSA
		if facts.RSA {
			alg = kmip.CryptographicAlgorithmRSA
		}
	}
	kb.CryptographicAlgorithm, kb.CryptographicLength = alg, facts.Bits
	// Attributes inside a Key Value are not managed attributes, and some
	// clients (Veeam) fail on a Key Value that carries them: they are not
	// kept. Managed attributes belong in the Template-Attribute.
	kb.KeyValue.Plain.Attribute = nil
	return nil
}

// clientFacts describes encrypted key material by what the client says.
func clientFacts(alg kmip.CryptographicAlgorithm, length int32) (Facts, error) {
	isEC := slices.Contains(ecAlgorithms, alg)
	switch {
	case alg == kmip.CryptographicAlgorithmRSA && length >= MinRSABits && length <= maxRSARegisterBits:
		return Facts{Known: true, RSA: true, Bits: length}, nil
	case isEC && length > 0 && length <= maxECBits:
		return Facts{Known: true, Bits: length}, nil
	}
	return Facts{}, kmiperr.Errorf(kmip.ResultReasonInvalidField, "an encrypted key needs a valid RSA or EC Cryptographic Algorithm and Cryptographic Length")
}

// Agreed returns the value given in the key block and/or as an attribute;
// both must agree when both are given.
func Agreed[T comparable](inBlock T, attrs []kmip.Attribute, name kmip.AttributeName) (T, error) {
	v, ok := AttrValue[T](attrs, name)
	var zero T
	switch {
	case !ok:
		return inBlock, nil
	case inBlock != zero && inBlock != v:
		return zero, kmiperr.Errorf(kmip.ResultReasonInvalidField, "%s differs between the key block and the attributes", name)
	}
	return v, nil
}

// DeriveAsymmetric returns the Digest over the key material as stored (KMIP
// 1.4 §3.17: "If the Key Material is a structure, then the Digest Value SHALL
// be calculated on the TTLV-encoded Key Material structure") and, for EC
// keys, the curve as Cryptographic Domain Parameters.
func DeriveAsymmetric(obj kmip.Object) []kmip.Attribute {
	var out []kmip.Attribute
	if facts, err := Inspect(obj); err == nil && facts.Curve != 0 {
		out = append(out, kmip.Attribute{
			AttributeName:  kmip.AttributeNameCryptographicDomainParameters,
			AttributeValue: kmip.CryptographicDomainParameters{RecommendedCurve: facts.Curve},
		})
	}
	if _, covered := Digest(obj); !covered {
		if d, ok := keyMaterialDigest(BlockOf(obj)); ok {
			out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: d})
		}
	}
	return out
}

// keyMaterialDigest is SHA-256 over a byte-string key material, or over the
// TTLV encoding of a structured one.
func keyMaterialDigest(kb *kmip.KeyBlock) (kmip.Digest, bool) {
	km, err := PlainMaterial(kb)
	if err != nil {
		return kmip.Digest{}, false
	}
	var data []byte
	if km.Bytes != nil {
		data = *km.Bytes
	} else {
		enc := ttlv.NewTTLVEncoder()
		enc.TagAny(kmip.TagKeyMaterial, km)
		data = enc.Bytes()
		defer clear(data)
	}
	sum := sha256.Sum256(data)
	return kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: sum[:], KeyFormatType: kb.KeyFormatType}, true
}
