package keyformat

import (
	"crypto/x509/pkix"
	"encoding/asn1"

	"github.com/ovh/kmip-go"
)

// Keys the server stores without being able to use them: EC keys on curves
// Go's crypto does not implement, and PKCS#8 keys encrypted under a
// password (EncryptedPrivateKeyInfo, RFC 5208 §6). The OASIS test cases
// TC-ECC-1/2/3 register both kinds. Their structure is checked and their
// curve read from it; they are kept and returned as registered, and cannot
// be converted to another Key Format Type.

// foreignCurves are the named curves recognised, by OID.
var foreignCurves = []struct {
	oid  asn1.ObjectIdentifier
	id   kmip.RecommendedCurve
	bits int32
}{
	{asn1.ObjectIdentifier{1, 3, 132, 0, 10}, kmip.RecommendedCurveSECP256K1, 256},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, kmip.RecommendedCurveBRAINPOOLP256R1, 256},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, kmip.RecommendedCurveBRAINPOOLP384R1, 384},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, kmip.RecommendedCurveBRAINPOOLP512R1, 512},
}

var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// foreignFacts identifies a key that Go cannot parse. For an encrypted
// PKCS#8 key nothing is known (facts.Known is false): only the client's
// attributes say what it is.
func foreignFacts(kb *kmip.KeyBlock, private bool) (Facts, bool) {
	km, err := PlainMaterial(kb)
	if err != nil {
		return Facts{}, false
	}
	der, err := derBytes(km)
	if err != nil {
		return Facts{}, false
	}
	switch {
	case private && kb.KeyFormatType == kmip.KeyFormatTypeECPrivateKey:
		return foreignECPrivate(der, nil)
	case private && kb.KeyFormatType == kmip.KeyFormatTypePKCS_8:
		if f, ok := foreignPKCS8(der); ok {
			return f, true
		}
		return encryptedPKCS8(der)
	case !private && kb.KeyFormatType == kmip.KeyFormatTypeX_509:
		return ForeignSPKI(der)
	}
	return Facts{}, false
}

// namedCurve reads the namedCurve choice of ECParameters (RFC 5480 §2.1.1).
func namedCurve(params asn1.RawValue) (asn1.ObjectIdentifier, bool) {
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(params.FullBytes, &oid); err != nil || len(rest) != 0 {
		return nil, false
	}
	return oid, true
}

func curveByOID(oid asn1.ObjectIdentifier) (Facts, bool) {
	for _, c := range foreignCurves {
		if c.oid.Equal(oid) {
			return Facts{Known: true, Bits: c.bits, Curve: c.id}, true
		}
	}
	return Facts{}, false
}

// validPoint checks the length and form of an encoded EC point (SEC 1
// §2.3.3): compressed or uncompressed.
func validPoint(p []byte, bits int32) bool {
	size := (int(bits) + 7) / 8
	switch {
	case len(p) == 1+2*size:
		return p[0] == 4
	case len(p) == 1+size:
		return p[0] == 2 || p[0] == 3
	}
	return false
}

// ecPrivateKey is RFC 5915's ECPrivateKey.
type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// foreignECPrivate reads an ECPrivateKey whose curve is named inside it or,
// within PKCS#8, by the algorithm parameters (outer).
func foreignECPrivate(der []byte, outer asn1.ObjectIdentifier) (Facts, bool) {
	var k ecPrivateKey
	if rest, err := asn1.Unmarshal(der, &k); err != nil || len(rest) != 0 || k.Version != 1 {
		return Facts{}, false
	}
	oid := k.Curve
	if len(oid) == 0 {
		oid = outer
	}
	f, ok := curveByOID(oid)
	if !ok || len(k.PrivateKey) != (int(f.Bits)+7)/8 {
		return Facts{}, false
	}
	if k.PublicKey.BitLength > 0 && !validPoint(k.PublicKey.Bytes, f.Bits) {
		return Facts{}, false
	}
	return f, true
}

// pkcs8 is RFC 5208's PrivateKeyInfo (attributes are not read).
type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
}

func foreignPKCS8(der []byte) (Facts, bool) {
	var k pkcs8
	if rest, err := asn1.Unmarshal(der, &k); err != nil || len(rest) != 0 || k.Version != 0 ||
		!k.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return Facts{}, false
	}
	oid, ok := namedCurve(k.Algorithm.Parameters)
	if !ok {
		return Facts{}, false
	}
	return foreignECPrivate(k.PrivateKey, oid)
}

// encryptedPKCS8 recognises RFC 5208's EncryptedPrivateKeyInfo.
func encryptedPKCS8(der []byte) (Facts, bool) {
	var k struct {
		Algorithm     pkix.AlgorithmIdentifier
		EncryptedData []byte
	}
	if rest, err := asn1.Unmarshal(der, &k); err != nil || len(rest) != 0 ||
		len(k.Algorithm.Algorithm) == 0 || len(k.EncryptedData) == 0 {
		return Facts{}, false
	}
	return Facts{}, true
}

func ForeignSPKI(der []byte) (Facts, bool) {
	var k struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &k); err != nil || len(rest) != 0 || !k.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return Facts{}, false
	}
	oid, ok := namedCurve(k.Algorithm.Parameters)
	if !ok {
		return Facts{}, false
	}
	f, ok := curveByOID(oid)
	if !ok || !validPoint(k.PublicKey.Bytes, f.Bits) || k.PublicKey.BitLength != 8*len(k.PublicKey.Bytes) {
		return Facts{}, false
	}
	return f, true
}
