package kmip

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
)

// Public and Private Key objects (KMIP 1.4 §2.2.3, §2.2.4). A key is stored
// in the format the client registered it in, or for generated keys in the
// formats the OASIS test vectors read back without asking for one: PKCS#1
// for both RSA halves, PKCS#8 and X.509 SubjectPublicKeyInfo for EC.
func init() {
	registerObjectKind(kmip.ObjectTypePublicKey, objectKind{since: kmip.V1_0, validate: validateAsymmetric, derive: deriveAsymmetric, convert: convertAsymmetric})
	registerObjectKind(kmip.ObjectTypePrivateKey, objectKind{since: kmip.V1_0, validate: validateAsymmetric, derive: deriveAsymmetric, convert: convertAsymmetric})
}

// Bounds on registered asymmetric keys.
const (
	maxAsymmetricBytes = 16 << 10 // DER encodings; an RSA-8192 PKCS#1 private key is under 5 KiB
	minRSABits         = 1024
	maxRSARegisterBits = 8192
	maxRSAExponent     = 1<<31 - 1
	maxECBits          = 571 // the largest curve KMIP names (K-571, B-571)
)

// curveSpec is an elliptic curve this server handles.
type curveSpec struct {
	id    kmip.RecommendedCurve
	curve elliptic.Curve
	bits  int32
}

var curveSpecs = []curveSpec{
	{kmip.RecommendedCurveP_224, elliptic.P224(), 224},
	{kmip.RecommendedCurveP_256, elliptic.P256(), 256},
	{kmip.RecommendedCurveP_384, elliptic.P384(), 384},
	{kmip.RecommendedCurveP_521, elliptic.P521(), 521},
}

func curveWhere(match func(curveSpec) bool) (curveSpec, bool) {
	i := slices.IndexFunc(curveSpecs, match)
	if i < 0 {
		return curveSpec{}, false
	}
	return curveSpecs[i], true
}

// ecAlgorithms may label an elliptic curve key: the key material is the
// same whatever it is meant for.
var ecAlgorithms = []kmip.CryptographicAlgorithm{
	kmip.CryptographicAlgorithmEC, kmip.CryptographicAlgorithmECDSA,
	kmip.CryptographicAlgorithmECDH, kmip.CryptographicAlgorithmECMQV,
}

// keyFacts is what the key material says about itself.
type keyFacts struct {
	known bool // false: encrypted material, only the client's attributes describe it
	rsa   bool
	bits  int32
	curve kmip.RecommendedCurve // EC keys only
}

func (f keyFacts) allows(alg kmip.CryptographicAlgorithm) bool {
	if f.rsa {
		return alg == kmip.CryptographicAlgorithmRSA
	}
	return slices.Contains(ecAlgorithms, alg)
}

// factsOf checks a public key against the sizes this server accepts.
func factsOf(pub crypto.PublicKey) (keyFacts, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < minRSABits || bits > maxRSARegisterBits {
			return keyFacts{}, errorf(kmip.ResultReasonInvalidField, "RSA modulus must have %d to %d bits", minRSABits, maxRSARegisterBits)
		}
		return keyFacts{known: true, rsa: true, bits: int32(bits)}, nil
	case *ecdsa.PublicKey:
		if c, ok := curveWhere(func(c curveSpec) bool { return c.curve == k.Curve }); ok {
			return keyFacts{known: true, bits: c.bits, curve: c.id}, nil
		}
	}
	return keyFacts{}, errorf(kmip.ResultReasonInvalidField, "key type not supported: RSA and EC keys on P-224, P-256, P-384 and P-521 are")
}

// inspectKey reads the facts of a Public or Private Key: from the key
// parsed by Go when it can, else from the structure of a key it stores
// without using (see asymmetric_foreign.go).
func inspectKey(obj kmip.Object) (keyFacts, error) {
	pub, err := publicOf(obj)
	if err == nil {
		return factsOf(pub)
	}
	if errors.Is(err, errKeyMaterial) {
		if f, ok := foreignFacts(keyBlockOf(obj), obj.ObjectType() == kmip.ObjectTypePrivateKey); ok {
			return f, nil
		}
	}
	return keyFacts{}, err
}

// validateAsymmetric checks a registered Public or Private Key by parsing
// it, and checks the Cryptographic Algorithm, Length and Domain Parameters
// the client gave, in the key block or as attributes, against the material.
// It completes the key block with the algorithm and length when the client
// left them out (KMIP 1.4 §2.1.3 lets a client omit them "only if this
// information is available from the Key Value"), so that Get and the
// derived attributes carry them.
func validateAsymmetric(obj kmip.Object, attrs []kmip.Attribute) error {
	kb := keyBlockOf(obj)
	if kb.KeyCompressionType != 0 {
		return errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	facts, err := inspectKey(obj)
	if err != nil {
		return err
	}
	alg, err := agreed(kb.CryptographicAlgorithm, attrs, kmip.AttributeNameCryptographicAlgorithm)
	if err != nil {
		return err
	}
	length, err := agreed(kb.CryptographicLength, attrs, kmip.AttributeNameCryptographicLength)
	if err != nil {
		return err
	}
	if !facts.known {
		if facts, err = clientFacts(alg, length); err != nil {
			return err
		}
	}
	if alg != 0 && !facts.allows(alg) {
		return errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm does not match the key material")
	}
	if length != 0 && length != facts.bits {
		return errorf(kmip.ResultReasonInvalidField, "Cryptographic Length does not match the key material")
	}
	if dp, ok := attrValue[kmip.CryptographicDomainParameters](attrs, kmip.AttributeNameCryptographicDomainParameters); ok &&
		dp.RecommendedCurve != 0 && facts.curve != 0 && dp.RecommendedCurve != facts.curve {
		return errorf(kmip.ResultReasonInvalidField, "Recommended Curve does not match the key material")
	}
	if alg == 0 {
		// ECDSA names an EC key in every version; EC itself is KMIP 1.3+.
		alg = kmip.CryptographicAlgorithmECDSA
		if facts.rsa {
			alg = kmip.CryptographicAlgorithmRSA
		}
	}
	kb.CryptographicAlgorithm, kb.CryptographicLength = alg, facts.bits
	// Attributes inside a Key Value are not managed attributes, and some
	// clients (Veeam) fail on a Key Value that carries them: they are not
	// kept. Managed attributes belong in the Template-Attribute.
	kb.KeyValue.Plain.Attribute = nil
	return nil
}

// clientFacts describes encrypted key material by what the client says.
func clientFacts(alg kmip.CryptographicAlgorithm, length int32) (keyFacts, error) {
	isEC := slices.Contains(ecAlgorithms, alg)
	switch {
	case alg == kmip.CryptographicAlgorithmRSA && length >= minRSABits && length <= maxRSARegisterBits:
		return keyFacts{known: true, rsa: true, bits: length}, nil
	case isEC && length > 0 && length <= maxECBits:
		return keyFacts{known: true, bits: length}, nil
	}
	return keyFacts{}, errorf(kmip.ResultReasonInvalidField, "an encrypted key needs a valid RSA or EC Cryptographic Algorithm and Cryptographic Length")
}

// agreed returns the value given in the key block and/or as an attribute;
// both must agree when both are given.
func agreed[T comparable](inBlock T, attrs []kmip.Attribute, name kmip.AttributeName) (T, error) {
	v, ok := attrValue[T](attrs, name)
	var zero T
	switch {
	case !ok:
		return inBlock, nil
	case inBlock != zero && inBlock != v:
		return zero, errorf(kmip.ResultReasonInvalidField, "%s differs between the key block and the attributes", name)
	}
	return v, nil
}

// deriveAsymmetric returns the Digest over the key material as stored (KMIP
// 1.4 §3.17: "If the Key Material is a structure, then the Digest Value SHALL
// be calculated on the TTLV-encoded Key Material structure") and, for EC
// keys, the curve as Cryptographic Domain Parameters.
func deriveAsymmetric(obj kmip.Object) []kmip.Attribute {
	var out []kmip.Attribute
	if facts, err := inspectKey(obj); err == nil && facts.curve != 0 {
		out = append(out, kmip.Attribute{
			AttributeName:  kmip.AttributeNameCryptographicDomainParameters,
			AttributeValue: kmip.CryptographicDomainParameters{RecommendedCurve: facts.curve},
		})
	}
	if _, covered := digestOf(obj); !covered {
		if d, ok := keyMaterialDigest(keyBlockOf(obj)); ok {
			out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: d})
		}
	}
	return out
}

// keyMaterialDigest is SHA-256 over a byte-string key material, or over the
// TTLV encoding of a structured one.
func keyMaterialDigest(kb *kmip.KeyBlock) (kmip.Digest, bool) {
	km, err := plainMaterial(kb)
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
