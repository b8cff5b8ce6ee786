package kmip_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// TestGetAsymmetricFormats: Get converts keys between the Key Format Types
// KMIP defines for them and refuses the others.
func TestGetAsymmetricFormats(t *testing.T) {
	rk, ek := testRSA(), testEC()
	stored := map[string]struct {
		obj kmip.Object
		key any
	}{
		"RSA private": {privateKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PrivateKey(rk))), rk},
		"RSA public":  {publicKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PublicKey(&rk.PublicKey))), &rk.PublicKey},
		"EC private":  {privateKey(kmip.KeyFormatTypePKCS_8, derKM(must(x509.MarshalPKCS8PrivateKey(ek)))), ek},
		"EC public":   {publicKey(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&ek.PublicKey)))), &ek.PublicKey},
	}
	tests := []struct {
		stored string
		format kmip.KeyFormatType
		ok     bool
	}{
		{"RSA private", kmip.KeyFormatTypePKCS_1, true},
		{"RSA private", kmip.KeyFormatTypePKCS_8, true},
		{"RSA private", kmip.KeyFormatTypeTransparentRSAPrivateKey, true},
		{"RSA private", kmip.KeyFormatTypeX_509, false},
		{"RSA private", kmip.KeyFormatTypeECPrivateKey, false},
		{"RSA private", kmip.KeyFormatTypeTransparentRSAPublicKey, false},
		{"RSA private", kmip.KeyFormatTypeRaw, false},
		{"RSA public", kmip.KeyFormatTypeX_509, true},
		{"RSA public", kmip.KeyFormatTypeTransparentRSAPublicKey, true},
		{"RSA public", kmip.KeyFormatTypePKCS_8, false},
		{"RSA public", kmip.KeyFormatTypeTransparentECPublicKey, false},
		{"EC private", kmip.KeyFormatTypeECPrivateKey, true},
		{"EC private", kmip.KeyFormatTypeTransparentECPrivateKey, true},
		{"EC private", kmip.KeyFormatTypeTransparentECDSAPrivateKey, true},
		{"EC private", kmip.KeyFormatTypePKCS_1, false},
		{"EC private", kmip.KeyFormatTypeTransparentRSAPrivateKey, false},
		{"EC public", kmip.KeyFormatTypeTransparentECPublicKey, true},
		{"EC public", kmip.KeyFormatTypeTransparentECDSAPublicKey, true},
		{"EC public", kmip.KeyFormatTypePKCS_1, false},
		{"EC public", kmip.KeyFormatTypeOpaque, false},
	}
	for _, tt := range tests {
		t.Run(tt.stored+"/"+ttlvName(tt.format), func(t *testing.T) {
			f := kmiptest.New(t)
			s := stored[tt.stored]
			id := register(t, f, kmip.V1_4, s.obj)
			bi := do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyFormatType: tt.format})
			if !tt.ok {
				fails(t, bi, kmip.ResultReasonKeyFormatTypeNotSupported)
				return
			}
			kb := getKey(t, f, kmip.V1_4, id, tt.format)
			if kb.KeyFormatType != tt.format || kb.CryptographicAlgorithm == 0 || kb.CryptographicLength == 0 {
				t.Errorf("key block %v %v/%d", kb.KeyFormatType, kb.CryptographicAlgorithm, kb.CryptographicLength)
			}
			_, private := s.obj.(*kmip.PrivateKey)
			if !sameKey(s.key, keyOf(t, kb, private)) {
				t.Error("the converted key differs from the stored one")
			}
			if tt.format == kmip.KeyFormatTypeTransparentRSAPrivateKey {
				tk := kb.KeyValue.Plain.KeyMaterial.TransparentRSAPrivateKey
				pm1 := new(big.Int).Sub(rk.Primes[0], big.NewInt(1))
				if tk.PrimeExponentP.Cmp(new(big.Int).Mod(rk.D, pm1)) != 0 || tk.CRTCoefficient.Cmp(rk.Precomputed.Qinv) != 0 {
					t.Error("wrong CRT values")
				}
			}
		})
	}
}

func ttlvName(f kmip.KeyFormatType) string { return ttlv.EnumStr(f) }

// Keys the server stores but cannot use: on a curve Go lacks, or encrypted.

var (
	oidSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidEC        = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

type testECPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

func curveParams(oid asn1.ObjectIdentifier) asn1.RawValue {
	return asn1.RawValue{FullBytes: must(asn1.Marshal(oid))}
}

func point(n int) asn1.BitString {
	p := append([]byte{4}, bytes.Repeat([]byte{7}, 2*n)...)
	return asn1.BitString{Bytes: p, BitLength: 8 * len(p)}
}

func k1Private(scalar int) []byte {
	return must(asn1.Marshal(testECPrivateKey{Version: 1, PrivateKey: bytes.Repeat([]byte{9}, scalar), Curve: oidSecp256k1, PublicKey: point(32)}))
}

func k1PKCS8() []byte {
	inner := must(asn1.Marshal(testECPrivateKey{Version: 1, PrivateKey: bytes.Repeat([]byte{9}, 32)}))
	return must(asn1.Marshal(struct {
		Version    int
		Algorithm  pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: oidEC, Parameters: curveParams(oidSecp256k1)}, inner}))
}

func ecSPKI(curve asn1.ObjectIdentifier, p asn1.BitString) []byte {
	return must(asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: oidEC, Parameters: curveParams(curve)}, p}))
}

// encryptedPKCS8 builds an EncryptedPrivateKeyInfo as TC-ECC-2 registers
// one: pbeWithSHA1And3-KeyTripleDES-CBC.
func encryptedPKCS8(t *testing.T) []byte {
	t.Helper()
	params := must(asn1.Marshal(struct {
		Salt       []byte
		Iterations int
	}{seq(8), 2048}))
	return must(asn1.Marshal(struct {
		Algorithm     pkix.AlgorithmIdentifier
		EncryptedData []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}, Parameters: asn1.RawValue{FullBytes: params}}, seq(144)}))
}

func TestRegisterForeignKeys(t *testing.T) {
	ecdsa256 := algLen(kmip.CryptographicAlgorithmECDSA, 256)
	tests := []struct {
		name  string
		obj   kmip.Object
		attrs []kmip.Attribute
		curve kmip.RecommendedCurve
		want  []kmip.ResultReason // nil: accepted
	}{
		{"secp256k1 RFC 5915", privateKey(kmip.KeyFormatTypeECPrivateKey, derKM(k1Private(32))), nil, kmip.RecommendedCurveSECP256K1, nil},
		{"secp256k1 PKCS#8", privateKey(kmip.KeyFormatTypePKCS_8, derKM(k1PKCS8())), ecdsa256, kmip.RecommendedCurveSECP256K1, nil},
		{"secp256k1 X.509", publicKey(kmip.KeyFormatTypeX_509, derKM(ecSPKI(oidSecp256k1, point(32)))), nil, kmip.RecommendedCurveSECP256K1, nil},
		{"encrypted PKCS#8", privateKey(kmip.KeyFormatTypePKCS_8, derKM(encryptedPKCS8(t))), ecdsa256, 0, nil},
		{"encrypted RSA PKCS#8", privateKey(kmip.KeyFormatTypePKCS_8, derKM(encryptedPKCS8(t))), algLen(kmip.CryptographicAlgorithmRSA, 2048), 0, nil},
		{"secp256k1 short scalar", privateKey(kmip.KeyFormatTypeECPrivateKey, derKM(k1Private(31))), nil, 0, invalidField},
		{"secp256k1 length wrong", publicKey(kmip.KeyFormatTypeX_509, derKM(ecSPKI(oidSecp256k1, point(32)))), algLen(kmip.CryptographicAlgorithmECDSA, 384), 0, invalidField},
		{"secp256k1 short point", publicKey(kmip.KeyFormatTypeX_509, derKM(ecSPKI(oidSecp256k1, point(31)))), nil, 0, invalidField},
		{"unknown curve", publicKey(kmip.KeyFormatTypeX_509, derKM(ecSPKI(asn1.ObjectIdentifier{1, 2, 3, 4}, point(32)))), nil, 0, invalidField},
		{"encrypted PKCS#8 named AES", privateKey(kmip.KeyFormatTypePKCS_8, derKM(encryptedPKCS8(t))), algLen(kmip.CryptographicAlgorithmAES, 256), 0, invalidField},
		{"encrypted PKCS#8 RSA-512", privateKey(kmip.KeyFormatTypePKCS_8, derKM(encryptedPKCS8(t))), algLen(kmip.CryptographicAlgorithmRSA, 512), 0, invalidField},
		{"encrypted PKCS#8 as a public key", publicKey(kmip.KeyFormatTypeX_509, derKM(encryptedPKCS8(t))), ecdsa256, 0, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: tt.obj.ObjectType(), TemplateAttribute: template(tt.attrs...), Object: tt.obj})
			if tt.want != nil {
				fails(t, bi, tt.want...)
				return
			}
			id := ok[*payloads.RegisterResponsePayload](t, bi).UniqueIdentifier
			kb := getKey(t, f, kmip.V1_4, id, 0)
			sent := keyBlockOf(0, kmip.KeyMaterial{}, 0, 0)
			switch o := tt.obj.(type) {
			case *kmip.PrivateKey:
				sent = o.KeyBlock
			case *kmip.PublicKey:
				sent = o.KeyBlock
			}
			if b, _ := kb.GetBytes(); !bytes.Equal(b, *sent.KeyValue.Plain.KeyMaterial.Bytes) || kb.CryptographicLength == 0 || kb.CryptographicAlgorithm == 0 {
				t.Errorf("Get returned %v %v/%d and other material", kb.KeyFormatType, kb.CryptographicAlgorithm, kb.CryptographicLength)
			}
			other := kmip.KeyFormatTypeTransparentECPublicKey
			if tt.obj.ObjectType() == kmip.ObjectTypePrivateKey {
				other = kmip.KeyFormatTypeTransparentECPrivateKey
			}
			fails(t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyFormatType: other}), kmip.ResultReasonKeyFormatTypeNotSupported)
			attrs := getAttrs(t, f, kmip.V1_4, id)
			dp, hasDP := value(attrs, kmip.AttributeNameCryptographicDomainParameters)
			if tt.curve != 0 && dp != (kmip.CryptographicDomainParameters{RecommendedCurve: tt.curve}) || tt.curve == 0 && hasDP {
				t.Errorf("Cryptographic Domain Parameters = %+v, want %v", dp, tt.curve)
			}
			if _, found := value(attrs, kmip.AttributeNameDigest); !found {
				t.Error("no Digest")
			}
		})
	}
}
