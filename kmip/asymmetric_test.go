package kmip_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"sync"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// Test keys, generated once per test binary.
var (
	testRSA = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		return k
	})
	testEC = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func keyBlockOf(format kmip.KeyFormatType, km kmip.KeyMaterial, alg kmip.CryptographicAlgorithm, bits int32) kmip.KeyBlock {
	return kmip.KeyBlock{
		KeyFormatType:          format,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: km}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    bits,
	}
}

func derKM(b []byte) kmip.KeyMaterial { return kmip.KeyMaterial{Bytes: &b} }

func privateKey(format kmip.KeyFormatType, km kmip.KeyMaterial) *kmip.PrivateKey {
	return &kmip.PrivateKey{KeyBlock: keyBlockOf(format, km, 0, 0)}
}

func publicKey(format kmip.KeyFormatType, km kmip.KeyMaterial) *kmip.PublicKey {
	return &kmip.PublicKey{KeyBlock: keyBlockOf(format, km, 0, 0)}
}

func transparentRSAPrivate(k *rsa.PrivateKey) kmip.KeyMaterial {
	t := &kmip.TransparentRSAPrivateKey{
		PrivateExponent: k.D, PublicExponent: big.NewInt(int64(k.E)), P: k.Primes[0], Q: k.Primes[1],
		PrimeExponentP: k.Precomputed.Dp, PrimeExponentQ: k.Precomputed.Dq, CRTCoefficient: k.Precomputed.Qinv,
	}
	t.Modulus.Set(k.N)
	return kmip.KeyMaterial{TransparentRSAPrivateKey: t}
}

func transparentRSAPublic(k *rsa.PublicKey) kmip.KeyMaterial {
	t := &kmip.TransparentRSAPublicKey{}
	t.Modulus.Set(k.N)
	t.PublicExponent.SetInt64(int64(k.E))
	return kmip.KeyMaterial{TransparentRSAPublicKey: t}
}

func transparentECPrivate(k *ecdsa.PrivateKey) *kmip.TransparentECPrivateKey {
	t := &kmip.TransparentECPrivateKey{RecommendedCurve: kmip.RecommendedCurveP_256}
	t.D.SetBytes(must(k.Bytes()))
	return t
}

func transparentECPublic(k *ecdsa.PublicKey) *kmip.TransparentECPublicKey {
	return &kmip.TransparentECPublicKey{RecommendedCurve: kmip.RecommendedCurveP_256, QString: must(k.Bytes())}
}

// getKey returns the key block of a Get answer for a public or private key.
func getKey(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, id string, format kmip.KeyFormatType) *kmip.KeyBlock {
	t.Helper()
	switch o := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyFormatType: format})).Object.(type) {
	case *kmip.PrivateKey:
		return &o.KeyBlock
	case *kmip.PublicKey:
		return &o.KeyBlock
	case *kmip.PGPKey:
		return &o.KeyBlock
	case *kmip.SplitKey:
		return &o.KeyBlock
	}
	t.Fatal("Get did not return a key")
	return nil
}

// keyOf parses a returned key block with the library's helpers.
func keyOf(t *testing.T, kb *kmip.KeyBlock, private bool) any {
	t.Helper()
	var k any
	var err error
	if private {
		k, err = (&kmip.PrivateKey{KeyBlock: *kb}).CryptoPrivateKey()
	} else {
		k, err = (&kmip.PublicKey{KeyBlock: *kb}).CryptoPublicKey()
	}
	if err != nil {
		t.Fatalf("returned %v key does not parse: %v", kb.KeyFormatType, err)
	}
	return k
}

func sameKey(a, b any) bool {
	switch k := a.(type) {
	case *rsa.PrivateKey:
		return k.Equal(b)
	case *ecdsa.PrivateKey:
		return k.Equal(b)
	case *rsa.PublicKey:
		return k.Equal(b)
	case *ecdsa.PublicKey:
		return k.Equal(b)
	}
	return false
}

// materialDigest is what the server must compute: SHA-256 over a byte
// string key material, or over the TTLV Key Material structure.
func materialDigest(kb *kmip.KeyBlock) []byte {
	km := kb.KeyValue.Plain.KeyMaterial
	if km.Bytes != nil {
		sum := sha256.Sum256(*km.Bytes)
		return sum[:]
	}
	enc := ttlv.NewTTLVEncoder()
	enc.TagAny(kmip.TagKeyMaterial, &km)
	sum := sha256.Sum256(enc.Bytes())
	return sum[:]
}

func TestRegisterAsymmetric(t *testing.T) {
	rk, ek := testRSA(), testEC()
	tests := []struct {
		name  string
		obj   kmip.Object
		key   any // the Go key it holds
		alg   kmip.CryptographicAlgorithm
		bits  int32
		curve kmip.RecommendedCurve
	}{
		{"RSA private PKCS#1", privateKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PrivateKey(rk))), rk, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"RSA private PKCS#8", privateKey(kmip.KeyFormatTypePKCS_8, derKM(must(x509.MarshalPKCS8PrivateKey(rk)))), rk, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"RSA private transparent", privateKey(kmip.KeyFormatTypeTransparentRSAPrivateKey, transparentRSAPrivate(rk)), rk, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"RSA public PKCS#1", publicKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PublicKey(&rk.PublicKey))), &rk.PublicKey, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"RSA public X.509", publicKey(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&rk.PublicKey)))), &rk.PublicKey, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"RSA public transparent", publicKey(kmip.KeyFormatTypeTransparentRSAPublicKey, transparentRSAPublic(&rk.PublicKey)), &rk.PublicKey, kmip.CryptographicAlgorithmRSA, 1024, 0},
		{"EC private RFC 5915", privateKey(kmip.KeyFormatTypeECPrivateKey, derKM(must(x509.MarshalECPrivateKey(ek)))), ek, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC private PKCS#8", privateKey(kmip.KeyFormatTypePKCS_8, derKM(must(x509.MarshalPKCS8PrivateKey(ek)))), ek, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC private transparent EC", privateKey(kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyMaterial{TransparentECPrivateKey: transparentECPrivate(ek)}), ek, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC private transparent ECDSA", privateKey(kmip.KeyFormatTypeTransparentECDSAPrivateKey, kmip.KeyMaterial{TransparentECDSAPrivateKey: (*kmip.TransparentECDSAPrivateKey)(transparentECPrivate(ek))}), ek, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC public X.509", publicKey(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&ek.PublicKey)))), &ek.PublicKey, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC public transparent EC", publicKey(kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyMaterial{TransparentECPublicKey: transparentECPublic(&ek.PublicKey)}), &ek.PublicKey, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
		{"EC public transparent ECDSA", publicKey(kmip.KeyFormatTypeTransparentECDSAPublicKey, kmip.KeyMaterial{TransparentECDSAPublicKey: (*kmip.TransparentECDSAPublicKey)(transparentECPublic(&ek.PublicKey))}), &ek.PublicKey, kmip.CryptographicAlgorithmECDSA, 256, kmip.RecommendedCurveP_256},
	}
	for _, tt := range tests {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_4} {
			t.Run(tt.name+"/"+vname(v), func(t *testing.T) {
				f := kmiptest.New(t)
				id := register(t, f, v, tt.obj)
				kb := getKey(t, f, v, id, 0)
				sent := keyBlockOf(0, kmip.KeyMaterial{}, 0, 0)
				switch o := tt.obj.(type) {
				case *kmip.PrivateKey:
					sent = o.KeyBlock
				case *kmip.PublicKey:
					sent = o.KeyBlock
				}
				if kb.KeyFormatType != sent.KeyFormatType {
					t.Errorf("stored as %v, registered as %v", kb.KeyFormatType, sent.KeyFormatType)
				}
				// The algorithm and length the client left out are
				// completed from the material.
				if kb.CryptographicAlgorithm != tt.alg || kb.CryptographicLength != tt.bits {
					t.Errorf("key block says %v/%d, want %v/%d", kb.CryptographicAlgorithm, kb.CryptographicLength, tt.alg, tt.bits)
				}
				_, private := tt.obj.(*kmip.PrivateKey)
				if !sameKey(tt.key, keyOf(t, kb, private)) {
					t.Error("Get returned another key")
				}
				attrs := getAttrs(t, f, v, id)
				if a, _ := value(attrs, kmip.AttributeNameCryptographicAlgorithm); a != tt.alg {
					t.Errorf("Cryptographic Algorithm = %v", a)
				}
				if l, _ := value(attrs, kmip.AttributeNameCryptographicLength); l != tt.bits {
					t.Errorf("Cryptographic Length = %v", l)
				}
				d, _ := value(attrs, kmip.AttributeNameDigest)
				if dv, isDigest := d.(kmip.Digest); !isDigest || !bytes.Equal(dv.DigestValue, materialDigest(kb)) {
					t.Errorf("Digest = %+v, want SHA-256 over the registered Key Material", d)
				} else if v == kmip.V1_4 && dv.KeyFormatType != kb.KeyFormatType {
					t.Errorf("Digest Key Format Type = %v, want %v", dv.KeyFormatType, kb.KeyFormatType)
				}
				dp, hasDP := value(attrs, kmip.AttributeNameCryptographicDomainParameters)
				if tt.curve != 0 && dp != (kmip.CryptographicDomainParameters{RecommendedCurve: tt.curve}) || tt.curve == 0 && hasDP {
					t.Errorf("Cryptographic Domain Parameters = %+v, want curve %v", dp, tt.curve)
				}
			})
		}
	}
}

// TestRegisterAsymmetricAttributes: what the client says about a key must
// agree with its material.
func TestRegisterAsymmetricAttributes(t *testing.T) {
	rk, ek := testRSA(), testEC()
	rsaPriv := func(alg kmip.CryptographicAlgorithm, bits int32) *kmip.PrivateKey {
		return &kmip.PrivateKey{KeyBlock: keyBlockOf(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PrivateKey(rk)), alg, bits)}
	}
	ecPub := func(alg kmip.CryptographicAlgorithm, bits int32) *kmip.PublicKey {
		return &kmip.PublicKey{KeyBlock: keyBlockOf(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&ek.PublicKey))), alg, bits)}
	}
	tests := []struct {
		name  string
		obj   kmip.Object
		attrs []kmip.Attribute
		want  []kmip.ResultReason // nil: accepted
	}{
		{"RSA as in the key block", rsaPriv(kmip.CryptographicAlgorithmRSA, 1024), nil, nil},
		{"RSA as attributes", rsaPriv(0, 0), algLen(kmip.CryptographicAlgorithmRSA, 1024), nil},
		{"EC key named EC", ecPub(kmip.CryptographicAlgorithmEC, 256), nil, nil},
		{"EC key named ECDH", ecPub(kmip.CryptographicAlgorithmECDH, 0), nil, nil},
		{"EC key with its curve", ecPub(0, 0), []kmip.Attribute{curveParam(kmip.RecommendedCurveP_256)}, nil},
		{"RSA key named AES", rsaPriv(kmip.CryptographicAlgorithmAES, 1024), nil, invalidField},
		{"RSA key named ECDSA", rsaPriv(kmip.CryptographicAlgorithmECDSA, 0), nil, invalidField},
		{"EC key named RSA", ecPub(kmip.CryptographicAlgorithmRSA, 256), nil, invalidField},
		{"RSA length wrong", rsaPriv(kmip.CryptographicAlgorithmRSA, 2048), nil, invalidField},
		{"EC length wrong", ecPub(kmip.CryptographicAlgorithmECDSA, 384), nil, invalidField},
		{"EC curve wrong", ecPub(0, 0), []kmip.Attribute{curveParam(kmip.RecommendedCurveP_384)}, invalidField},
		{"block and attribute differ", rsaPriv(kmip.CryptographicAlgorithmRSA, 0), []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmDSA)}, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: tt.obj.ObjectType(), TemplateAttribute: template(tt.attrs...), Object: tt.obj})
			if tt.want == nil {
				ok[*payloads.RegisterResponsePayload](t, bi)
				return
			}
			fails(t, bi, tt.want...)
		})
	}
}

func TestRegisterAsymmetricRejects(t *testing.T) {
	rk, ek := testRSA(), testEC()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	weak := &rsa.PublicKey{N: new(big.Int).SetBit(big.NewInt(1), 511, 1), E: 65537}
	noPrimes := transparentRSAPrivate(rk)
	noPrimes.TransparentRSAPrivateKey.P = nil
	badPrimes := transparentRSAPrivate(rk)
	badPrimes.TransparentRSAPrivateKey.Q = big.NewInt(7)
	p192 := transparentECPublic(&ek.PublicKey)
	p192.RecommendedCurve = kmip.RecommendedCurveP_192
	offCurve := transparentECPublic(&ek.PublicKey)
	offCurve.QString = append([]byte{4}, bytes.Repeat([]byte{1}, 64)...)
	compressed := publicKey(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&ek.PublicKey))))
	compressed.KeyBlock.KeyCompressionType = kmip.KeyCompressionTypeECPublicKeyTypeX9_62CompressedPrime
	wrappedValue := privateKey(kmip.KeyFormatTypePKCS_1, kmip.KeyMaterial{})
	w := []byte{1, 2, 3}
	wrappedValue.KeyBlock.KeyValue = &kmip.KeyValue{Wrapped: &w}
	multiPrime := must(rsa.GenerateMultiPrimeKey(rand.Reader, 3, 1024))
	tests := []struct {
		name string
		obj  kmip.Object
		want []kmip.ResultReason
	}{
		{"garbage PKCS#1", privateKey(kmip.KeyFormatTypePKCS_1, derKM(seq(600))), invalidField},
		{"garbage X.509", publicKey(kmip.KeyFormatTypeX_509, derKM(seq(90))), invalidField},
		{"empty material", privateKey(kmip.KeyFormatTypePKCS_8, derKM([]byte{})), invalidField},
		{"oversized material", privateKey(kmip.KeyFormatTypePKCS_8, derKM(make([]byte, 16<<10+1))), invalidField},
		{"public key in a private key", privateKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PublicKey(&rk.PublicKey))), invalidField},
		{"X.509 is no private key format", privateKey(kmip.KeyFormatTypeX_509, derKM(must(x509.MarshalPKIXPublicKey(&rk.PublicKey)))), []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"PKCS#8 is no public key format", publicKey(kmip.KeyFormatTypePKCS_8, derKM(must(x509.MarshalPKCS8PrivateKey(rk)))), []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"raw private key", privateKey(kmip.KeyFormatTypeRaw, derKM(seq(32))), []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"Ed25519 key", privateKey(kmip.KeyFormatTypePKCS_8, derKM(must(x509.MarshalPKCS8PrivateKey(edKey)))), invalidField},
		{"RSA-512", publicKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PublicKey(weak))), invalidField},
		{"multi-prime RSA", privateKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PrivateKey(multiPrime))), invalidField},
		{"transparent RSA without primes", privateKey(kmip.KeyFormatTypeTransparentRSAPrivateKey, noPrimes), invalidField},
		{"transparent RSA with wrong primes", privateKey(kmip.KeyFormatTypeTransparentRSAPrivateKey, badPrimes), invalidField},
		{"transparent EC on P-192", publicKey(kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyMaterial{TransparentECPublicKey: p192}), invalidField},
		{"transparent EC point off the curve", publicKey(kmip.KeyFormatTypeTransparentECPublicKey, kmip.KeyMaterial{TransparentECPublicKey: offCurve}), invalidField},
		{"transparent EC private zero", privateKey(kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyMaterial{TransparentECPrivateKey: &kmip.TransparentECPrivateKey{RecommendedCurve: kmip.RecommendedCurveP_256}}), invalidField},
		{"key compression", compressed, []kmip.ResultReason{kmip.ResultReasonKeyCompressionTypeNotSupported}},
		{"wrapped value without wrapping data", wrappedValue, []kmip.ResultReason{kmip.ResultReasonFeatureNotSupported}},
		{"encrypted PKCS#8 without algorithm", privateKey(kmip.KeyFormatTypePKCS_8, derKM(encryptedPKCS8(t))), invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: tt.obj.ObjectType(), Object: tt.obj})
			fails(t, bi, tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}

// TestRegisterKeyValueAttributes: attributes inside a Key Value are not
// kept; Veeam fails on a Key Value that carries them.
func TestRegisterKeyValueAttributes(t *testing.T) {
	f := kmiptest.New(t)
	obj := privateKey(kmip.KeyFormatTypePKCS_1, derKM(x509.MarshalPKCS1PrivateKey(testRSA())))
	obj.KeyBlock.KeyValue.Plain.Attribute = []kmip.Attribute{attr(kmip.AttributeNameName, kmip.Name{NameValue: "inside", NameType: kmip.NameTypeUninterpretedTextString})}
	id := register(t, f, kmip.V1_4, obj)
	if kb := getKey(t, f, kmip.V1_4, id, 0); len(kb.KeyValue.Plain.Attribute) != 0 {
		t.Errorf("the Key Value carries %d attributes", len(kb.KeyValue.Plain.Attribute))
	}
}
