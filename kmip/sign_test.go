package kmip_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func pkcs8Block(alg kmip.CryptographicAlgorithm, bits int32, der []byte) kmip.KeyBlock {
	b := pkcs1Block(alg, bits, der)
	b.KeyFormatType = kmip.KeyFormatTypePKCS_8
	return b
}

func spkiBlock(alg kmip.CryptographicAlgorithm, bits int32, der []byte) kmip.KeyBlock {
	b := pkcs1Block(alg, bits, der)
	b.KeyFormatType = kmip.KeyFormatTypeX_509
	return b
}

// TestSignVerify signs with RSA PKCS#1 v1.5, RSA PSS and ECDSA P-256, over
// data and over a digest; the signatures verify with Go's own crypto and
// through Signature Verify, and a changed message is answered Invalid.
func TestSignVerify(t *testing.T) {
	f := kmiptest.New(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	rsaPriv := register(t, f, kmip.V1_4, &kmip.PrivateKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PrivateKey(rsaKey))},
		usage(kmip.CryptographicUsageSign), activeSince())
	rsaPub := register(t, f, kmip.V1_4, &kmip.PublicKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))},
		usage(kmip.CryptographicUsageVerify), activeSince())
	ecPriv := register(t, f, kmip.V1_4, &kmip.PrivateKey{KeyBlock: pkcs8Block(kmip.CryptographicAlgorithmECDSA, 256, ecDER)},
		usage(kmip.CryptographicUsageSign), activeSince())
	ecPubID := register(t, f, kmip.V1_4, &kmip.PublicKey{KeyBlock: spkiBlock(kmip.CryptographicAlgorithmECDSA, 256, ecPub)},
		usage(kmip.CryptographicUsageVerify), activeSince())

	msg := []byte("the message to sign")
	digest := sha256.Sum256(msg)
	tests := []struct {
		name        string
		priv, pub   string
		params      *kmip.CryptographicParameters
		digested    bool
		checkWithGo func(sig []byte) error
	}{
		{"RSA PKCS#1 v1.5 SHA-256", rsaPriv, rsaPub,
			&kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption}, false,
			func(sig []byte) error { return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig) }},
		{"RSA PSS SHA-256", rsaPriv, rsaPub,
			&kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmRSA, PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, false,
			func(sig []byte) error { return rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig, nil) }},
		{"ECDSA P-256 SHA-256", ecPriv, ecPubID,
			&kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}, false,
			func(sig []byte) error {
				if !ecdsa.VerifyASN1(&ecKey.PublicKey, digest[:], sig) {
					return errInvalidSig
				}
				return nil
			}},
		{"ECDSA over a digest", ecPriv, ecPubID,
			&kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}, true,
			func(sig []byte) error {
				if !ecdsa.VerifyASN1(&ecKey.PublicKey, digest[:], sig) {
					return errInvalidSig
				}
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &payloads.SignRequestPayload{UniqueIdentifier: tt.priv, CryptographicParameters: tt.params, Data: msg}
			if tt.digested {
				req = &payloads.SignRequestPayload{UniqueIdentifier: tt.priv, CryptographicParameters: tt.params, DigestedData: digest[:]}
			}
			sig := ok[*payloads.SignResponsePayload](t, do(t, f, kmip.V1_4, req)).SignatureData
			if err := tt.checkWithGo(sig); err != nil {
				t.Fatalf("Go does not accept the signature: %v", err)
			}
			verify := &payloads.SignatureVerifyRequestPayload{UniqueIdentifier: tt.pub, CryptographicParameters: tt.params, Data: msg, SignatureData: sig}
			if got := ok[*payloads.SignatureVerifyResponsePayload](t, do(t, f, kmip.V1_4, verify)).ValidityIndicator; got != kmip.ValidityIndicatorValid {
				t.Errorf("Signature Verify = %v, want Valid", got)
			}
			verify.Data = []byte("another message")
			if got := ok[*payloads.SignatureVerifyResponsePayload](t, do(t, f, kmip.V1_4, verify)).ValidityIndicator; got != kmip.ValidityIndicatorInvalid {
				t.Errorf("Signature Verify of another message = %v, want Invalid", got)
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		p := tests[0].params
		fails(t, do(t, f, kmip.V1_4, &payloads.SignRequestPayload{UniqueIdentifier: rsaPub, CryptographicParameters: p, Data: msg}), kmip.ResultReasonIllegalOperation)
		fails(t, do(t, f, kmip.V1_4, &payloads.SignRequestPayload{UniqueIdentifier: rsaPriv, CryptographicParameters: p, Data: msg, DigestedData: digest[:]}), kmip.ResultReasonInvalidField)
		fails(t, do(t, f, kmip.V1_1, &payloads.SignRequestPayload{UniqueIdentifier: rsaPriv, CryptographicParameters: p, Data: msg}), kmip.ResultReasonOperationNotSupported)
		fails(t, exec(t, f, bob, kmip.V1_4, &payloads.SignRequestPayload{UniqueIdentifier: rsaPriv, CryptographicParameters: p, Data: msg})[0], kmip.ResultReasonItemNotFound)
	})
}

var errInvalidSig = errors.New("invalid signature")

// TestMAC follows RFC 4231 test case 1 (HMAC-SHA-256, a key of 20 0x0b) and
// checks MAC Verify's answers.
func TestMAC(t *testing.T) {
	f := kmiptest.New(t)
	id := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmHMACSHA256, 160, bytes.Repeat([]byte{0x0b}, 20)),
		usage(kmip.CryptographicUsageMACGenerate|kmip.CryptographicUsageMACVerify), activeSince())
	data := []byte("Hi There")
	want := mustHex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
	got := ok[*kmsdkmip.MACResponsePayload](t, do(t, f, kmip.V1_4, &kmsdkmip.MACRequestPayload{UniqueIdentifier: id, Data: data})).MACData
	if !bytes.Equal(got, want) {
		t.Fatalf("MAC = %x, want %x", got, want)
	}
	verify := &kmsdkmip.MACVerifyRequestPayload{UniqueIdentifier: id, Data: data, MACData: want}
	if v := ok[*kmsdkmip.MACVerifyResponsePayload](t, do(t, f, kmip.V1_4, verify)).ValidityIndicator; v != kmip.ValidityIndicatorValid {
		t.Errorf("MAC Verify = %v", v)
	}
	verify.MACData = append([]byte{want[0] ^ 0x80}, want[1:]...)
	if v := ok[*kmsdkmip.MACVerifyResponsePayload](t, do(t, f, kmip.V1_4, verify)).ValidityIndicator; v != kmip.ValidityIndicatorInvalid {
		t.Errorf("MAC Verify of a changed MAC = %v", v)
	}
	aes := create(t, f, kmip.V1_4, activeSince())
	fails(t, do(t, f, kmip.V1_4, &kmsdkmip.MACRequestPayload{UniqueIdentifier: aes, Data: data}), kmip.ResultReasonPermissionDenied)
}

// TestHashAndRNG: Hash of "abc" (FIPS 180-2) and RNG Retrieve's bounds.
func TestHashAndRNG(t *testing.T) {
	f := kmiptest.New(t)
	p := &kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256}
	got := ok[*kmsdkmip.HashResponsePayload](t, do(t, f, kmip.V1_4, &kmsdkmip.HashRequestPayload{CryptographicParameters: p, Data: []byte("abc")})).Data
	if want := mustHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); !bytes.Equal(got, want) {
		t.Fatalf("Hash = %x", got)
	}
	fails(t, do(t, f, kmip.V1_4, &kmsdkmip.HashRequestPayload{Data: []byte("abc")}), kmip.ResultReasonInvalidField)
	fails(t, do(t, f, kmip.V1_1, &kmsdkmip.HashRequestPayload{CryptographicParameters: p, Data: []byte("abc")}), kmip.ResultReasonOperationNotSupported)

	a := ok[*kmsdkmip.RNGRetrieveResponsePayload](t, do(t, f, kmip.V1_3, &kmsdkmip.RNGRetrieveRequestPayload{DataLength: 32})).Data
	b := ok[*kmsdkmip.RNGRetrieveResponsePayload](t, do(t, f, kmip.V1_3, &kmsdkmip.RNGRetrieveRequestPayload{DataLength: 32})).Data
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("RNG Retrieve = %x, then %x", a, b)
	}
	for _, n := range []int32{0, -1, 64<<10 + 1} {
		fails(t, do(t, f, kmip.V1_3, &kmsdkmip.RNGRetrieveRequestPayload{DataLength: n}), kmip.ResultReasonInvalidField)
	}
	fails(t, do(t, f, kmip.V1_1, &kmsdkmip.RNGRetrieveRequestPayload{DataLength: 32}), kmip.ResultReasonOperationNotSupported)
}
