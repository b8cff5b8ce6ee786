package kmip_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// The key encryption key and data key of RFC 3394 §4.1, as KMIP test cases
// TC-141 and TC-WRAP-1-14 use them.
var (
	rfcKEK     = mustHex("000102030405060708090a0b0c0d0e0f")
	rfcKEK256  = mustHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	rfcDEK     = mustHex("00112233445566778899aabbccddeeff")
	rfcWrapped = mustHex("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5") // §4.1
	rfcWrap256 = mustHex("64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7") // §4.3
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	nistKW = &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeNISTKeyWrap}
	kwp    = &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeAESKeyWrapPadding}
)

// activeSince makes an object Active from an hour before the fixture's
// clock.
func activeSince() kmip.Attribute {
	return attr(kmip.AttributeNameActivationDate, kmiptest.Epoch.Add(-3600e9))
}

// registerKEK registers an Active AES key with usage Wrap Key and the given
// Cryptographic Parameters instances.
func registerKEK(t *testing.T, f *kmiptest.Fixture, material []byte, params ...*kmip.CryptographicParameters) string {
	t.Helper()
	attrs := []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageWrapKey|kmip.CryptographicUsageUnwrapKey), activeSince()}
	for _, p := range params {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicParameters, *p))
	}
	return register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, int32(len(material)*8), material), attrs...)
}

// wrapSpec asks for Encrypt wrapping under kek.
func wrapSpec(kek string, params *kmip.CryptographicParameters, enc kmip.EncodingOption, names ...kmip.AttributeName) *kmip.KeyWrappingSpecification {
	return &kmip.KeyWrappingSpecification{
		WrappingMethod:           kmip.WrappingMethodEncrypt,
		EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: kek, CryptographicParameters: params},
		AttributeName:            names,
		EncodingOption:           enc,
	}
}

func getWrapped(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, id string, spec *kmip.KeyWrappingSpecification) *kmip.KeyBlock {
	t.Helper()
	resp := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrappingSpecification: spec}))
	kb := blockOf(t, resp.Object)
	if kb.KeyWrappingData == nil || kb.KeyValue == nil || kb.KeyValue.Wrapped == nil {
		t.Fatalf("Get did not return a wrapped key: %+v", kb)
	}
	return kb
}

func blockOf(t *testing.T, obj kmip.Object) *kmip.KeyBlock {
	t.Helper()
	switch o := obj.(type) {
	case *kmip.SymmetricKey:
		return &o.KeyBlock
	case *kmip.SecretData:
		return &o.KeyBlock
	}
	t.Fatalf("no key block in %T", obj)
	return nil
}

func pkcs1Block(alg kmip.CryptographicAlgorithm, bits int32, der []byte) kmip.KeyBlock {
	return kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypePKCS_1,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &der}}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    bits,
	}
}

// registerRSA registers an RSA key pair for alice, the public key linked to
// the private key and wrapping with the given parameters.
func registerRSA(t *testing.T, f *kmiptest.Fixture, params ...*kmip.CryptographicParameters) (priv *rsa.PrivateKey, pubID, privID string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	privID = register(t, f, kmip.V1_4, &kmip.PrivateKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PrivateKey(priv))},
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageUnwrapKey), activeSince())
	attrs := []kmip.Attribute{
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageWrapKey), activeSince(),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePrivateKeyLink, LinkedObjectIdentifier: privID}),
	}
	for _, p := range params {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicParameters, *p))
	}
	pubID = register(t, f, kmip.V1_4, &kmip.PublicKey{KeyBlock: pkcs1Block(kmip.CryptographicAlgorithmRSA, 2048, x509.MarshalPKCS1PublicKey(&priv.PublicKey))}, attrs...)
	return priv, pubID, privID
}

// TestGetWrappedVectors: NIST Key Wrap and AES Key Wrap with Padding of raw
// key material give the RFC 3394 and RFC 5649 test vectors (TC-141).
func TestGetWrappedVectors(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK, nistKW)
	kek256 := registerKEK(t, f, rfcKEK256, nistKW)
	kek192 := registerKEK(t, f, mustHex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"), kwp)
	dek := register(t, f, kmip.V1_2, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcDEK))
	hmacKey := register(t, f, kmip.V1_2, rawKey(kmip.CryptographicAlgorithmHMACSHA1, 160, mustHex("c37b7e6492584340bed12207808941155068f738")))
	seed := register(t, f, kmip.V1_2, secretData(mustHex("466f7250617369")))

	tests := []struct {
		name   string
		v      kmip.ProtocolVersion
		id     string
		kek    string
		params *kmip.CryptographicParameters
		want   []byte
	}{
		{"RFC 3394 4.1 in 1.2", kmip.V1_2, dek, kek, nistKW, rfcWrapped},
		{"RFC 3394 4.1 in 1.4", kmip.V1_4, dek, kek, nistKW, rfcWrapped},
		{"RFC 3394 4.3, parameters from the key", kmip.V1_4, dek, kek256, nil, rfcWrap256},
		{"RFC 5649 20 octets", kmip.V1_4, hmacKey, kek192, kwp, mustHex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")},
		{"RFC 5649 7 octets of secret data", kmip.V1_3, seed, kek192, kwp, mustHex("afbeb0f07dfbf5419200f2ccb50bb24f")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kb := getWrapped(t, f, tt.v, tt.id, wrapSpec(tt.kek, tt.params, kmip.EncodingOptionNoEncoding))
			if !bytes.Equal(*kb.KeyValue.Wrapped, tt.want) {
				t.Errorf("wrapped % x, want % x", *kb.KeyValue.Wrapped, tt.want)
			}
			kwd := kb.KeyWrappingData
			if kwd.WrappingMethod != kmip.WrappingMethodEncrypt || kwd.EncodingOption != kmip.EncodingOptionNoEncoding ||
				kwd.EncryptionKeyInformation == nil || kwd.EncryptionKeyInformation.UniqueIdentifier != tt.kek {
				t.Errorf("Key Wrapping Data %+v", kwd)
			}
			if p := kwd.EncryptionKeyInformation.CryptographicParameters; p == nil || p.BlockCipherMode == 0 {
				t.Errorf("Key Wrapping Data does not say how the key was wrapped: %+v", p)
			}
			if kb.KeyFormatType != kmip.KeyFormatTypeRaw && kb.KeyFormatType != kmip.KeyFormatTypeOpaque {
				t.Errorf("format %v", kb.KeyFormatType)
			}
		})
	}
}

// TestGetWrappedRoundTrip: what Get wraps, Register takes back as a wrapped
// key, and Get with Key Wrap Type Not Wrapped unwraps it to the original
// material, with the attributes wrapped along (TTLV Encoding, TC-142).
func TestGetWrappedRoundTrip(t *testing.T) {
	f := kmiptest.New(t)
	kekKW := registerKEK(t, f, rfcKEK256, nistKW)
	kekKWP := registerKEK(t, f, rfcKEK, kwp)
	dek := register(t, f, kmip.V1_4, transparentKey(kmip.CryptographicAlgorithmAES, 256, seq(32)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt))
	tests := []struct {
		name   string
		kek    string
		enc    kmip.EncodingOption
		format kmip.KeyFormatType
		names  []kmip.AttributeName
		attrs  int // attributes inside the unwrapped Key Value
	}{
		{"KW, TTLV by default", kekKW, 0, 0, nil, 0},
		{"KW, TTLV with attributes", kekKW, kmip.EncodingOptionTTLVEncoding, 0, []kmip.AttributeName{kmip.AttributeNameCryptographicUsageMask, kmip.AttributeNameState, "x-absent"}, 2},
		{"KWP, TTLV", kekKWP, kmip.EncodingOptionTTLVEncoding, kmip.KeyFormatTypeRaw, []kmip.AttributeName{kmip.AttributeNameCryptographicUsageMask}, 1},
		{"KW, No Encoding, as Raw", kekKW, kmip.EncodingOptionNoEncoding, kmip.KeyFormatTypeRaw, nil, 0},
		{"KWP, No Encoding, as Raw", kekKWP, kmip.EncodingOptionNoEncoding, kmip.KeyFormatTypeRaw, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{
				UniqueIdentifier: dek, KeyFormatType: tt.format, KeyWrappingSpecification: wrapSpec(tt.kek, nil, tt.enc, tt.names...),
			}))
			kb := *blockOf(t, resp.Object)
			if kb.KeyWrappingData == nil || kb.KeyValue.Wrapped == nil || bytes.Contains(*kb.KeyValue.Wrapped, seq(32)) {
				t.Fatal("key not wrapped")
			}
			if kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES || kb.CryptographicLength != 256 {
				t.Errorf("key block says %v/%d", kb.CryptographicAlgorithm, kb.CryptographicLength)
			}
			id := register(t, f, kmip.V1_4, &kmip.SymmetricKey{KeyBlock: kb})
			got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}))
			plain := blockOf(t, got.Object)
			if plain.KeyWrappingData != nil || plain.KeyValue.Plain == nil {
				t.Fatal("Not Wrapped returned a wrapped key")
			}
			if b := objectBytes(t, got.Object); !bytes.Equal(b, seq(32)) {
				t.Errorf("unwrapped % x", b)
			}
			if n := len(plain.KeyValue.Plain.Attribute); n != tt.attrs {
				t.Errorf("%d attributes wrapped with the key, want %d", n, tt.attrs)
			}
		})
	}
}

// TestGetWrappedRSA: RSA-OAEP with the stored public key, SHA-1 by
// default, SHA-256 when the parameters say so; MGF1 hashes with SHA-1
// unless told otherwise (KMIP 1.4 §3.6).
func TestGetWrappedRSA(t *testing.T) {
	sha256Params := &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}
	sha256Both := &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, HashingAlgorithm: kmip.HashingAlgorithmSHA_256,
		MaskGenerator: kmip.MaskGeneratorMGF1, MaskGeneratorHashingAlgorithm: kmip.HashingAlgorithmSHA_256, PSource: []byte("label")}
	oaepDefault := &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP}
	f := kmiptest.New(t)
	priv, pub, privID := registerRSA(t, f, oaepDefault, sha256Params, sha256Both)
	dek := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcDEK))
	tests := []struct {
		name   string
		params *kmip.CryptographicParameters
		opts   rsa.OAEPOptions
	}{
		{"SHA-1", oaepDefault, rsa.OAEPOptions{Hash: crypto.SHA1}},
		{"SHA-256, MGF1 with SHA-1", sha256Params, rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}},
		{"SHA-256, MGF1 with SHA-256, label", sha256Both, rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("label")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kb := getWrapped(t, f, kmip.V1_4, dek, wrapSpec(pub, tt.params, kmip.EncodingOptionNoEncoding))
			got, err := priv.Decrypt(nil, *kb.KeyValue.Wrapped, &tt.opts)
			if err != nil || !bytes.Equal(got, rfcDEK) {
				t.Fatalf("decrypted % x, %v", got, err)
			}
		})
	}
	t.Run("private key wrapped with AES, registered back, unwrapped", func(t *testing.T) {
		kek := registerKEK(t, f, rfcKEK256, nistKW)
		resp := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: privID, KeyWrappingSpecification: wrapSpec(kek, nil, 0)}))
		key, isKey := resp.Object.(*kmip.PrivateKey)
		if !isKey || key.KeyBlock.KeyValue.Wrapped == nil {
			t.Fatalf("Get returned %T, not a wrapped private key", resp.Object)
		}
		id := register(t, f, kmip.V1_4, key, attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageSign))
		if _, found := value(getAttrs(t, f, kmip.V1_4, id), kmip.AttributeNameDigest); found {
			t.Error("a wrapped private key got a Digest")
		}
		got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}))
		if b, err := got.Object.(*kmip.PrivateKey).KeyBlock.GetBytes(); err != nil || !bytes.Equal(b, x509.MarshalPKCS1PrivateKey(priv)) {
			t.Errorf("unwrapped private key differs: %v", err)
		}
	})
	t.Run("registered wrapped under the public key, unwrapped with its private key", func(t *testing.T) {
		kb := getWrapped(t, f, kmip.V1_4, dek, wrapSpec(pub, nil, 0))
		id := register(t, f, kmip.V1_4, &kmip.SymmetricKey{KeyBlock: *kb})
		got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}))
		if b := objectBytes(t, got.Object); !bytes.Equal(b, rfcDEK) {
			t.Errorf("unwrapped % x", b)
		}
	})
}

// TestGetWrappedBatch: Create then Get with a Key Wrapping Specification
// and no Unique Identifier, which names the new key (AX-M-2-14).
func TestGetWrappedBatch(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK256, nistKW)
	items := exec(t, f, alice, kmip.V1_4,
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, nistKW, 0)},
	)
	id := ok[*payloads.CreateResponsePayload](t, items[0]).UniqueIdentifier
	got := ok[*payloads.GetResponsePayload](t, items[1])
	if got.UniqueIdentifier != id {
		t.Errorf("Get answered for %q, want %q", got.UniqueIdentifier, id)
	}
	kb := blockOf(t, got.Object)
	// A TTLV Key Value holding 32 bytes of Raw key material is 48 bytes;
	// NIST Key Wrap adds 8.
	if kb.KeyValue.Wrapped == nil || len(*kb.KeyValue.Wrapped) != 56 || kb.KeyWrappingData.EncodingOption != 0 {
		t.Errorf("wrapped key value %+v, wrapping data %+v", kb.KeyValue, kb.KeyWrappingData)
	}
}

// wrappedKey builds an AES-128 key registered wrapped under kek; inStruct
// puts the wrapped bytes in a Key Value structure, as TC-WRAP-1-14 does.
func wrappedKey(wrapped []byte, kek string, enc kmip.EncodingOption, inStruct bool) *kmip.SymmetricKey {
	key := rawKey(kmip.CryptographicAlgorithmAES, 128, wrapped)
	if !inStruct {
		w := wrapped
		key.KeyBlock.KeyValue = &kmip.KeyValue{Wrapped: &w}
	}
	key.KeyBlock.KeyWrappingData = &kmip.KeyWrappingData{
		WrappingMethod:           kmip.WrappingMethodEncrypt,
		EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: kek, CryptographicParameters: nistKW},
		EncodingOption:           enc,
	}
	return key
}

// TestRegisterWrapped: a wrapped key is stored as given; Get returns it as
// registered, and unwrapped on request when the server holds the key.
func TestRegisterWrapped(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK, nistKW)
	tests := []struct {
		name string
		key  *kmip.SymmetricKey
	}{
		{"Key Value byte string", wrappedKey(rfcWrapped, kek, kmip.EncodingOptionNoEncoding, false)},
		{"Key Material byte string (TC-WRAP-1-14)", wrappedKey(rfcWrapped, kek, kmip.EncodingOptionNoEncoding, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := register(t, f, kmip.V1_4, tt.key, attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt))
			for _, wt := range []kmip.KeyWrapType{0, kmip.AsRegistered} {
				got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: wt, KeyFormatType: kmip.KeyFormatTypeRaw}))
				if kb := blockOf(t, got.Object); !bytes.Equal(ttlv.MarshalTTLV(kb), ttlv.MarshalTTLV(&tt.key.KeyBlock)) {
					t.Errorf("Key Wrap Type %v: key block differs from the one registered", wt)
				}
			}
			got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}))
			if b := objectBytes(t, got.Object); !bytes.Equal(b, rfcDEK) || blockOf(t, got.Object).KeyWrappingData != nil {
				t.Errorf("Not Wrapped returned % x", b)
			}
			attrs := getAttrs(t, f, kmip.V1_4, id)
			if _, found := value(attrs, kmip.AttributeNameDigest); found {
				t.Error("a wrapped key got a Digest the server cannot compute")
			}
			if l, _ := value(attrs, kmip.AttributeNameCryptographicLength); l != int32(128) {
				t.Errorf("Cryptographic Length %v", l)
			}
		})
	}
}

func TestRegisterWrappedRejects(t *testing.T) {
	mac := wrappedKey(rfcWrapped, "kek", 0, false)
	mac.KeyBlock.KeyWrappingData.WrappingMethod = kmip.WrappingMethodMACSign
	noKEK := wrappedKey(rfcWrapped, "", 0, false)
	macData := wrappedKey(rfcWrapped, "kek", 0, false)
	macData.KeyBlock.KeyWrappingData.MACSignature = seq(16)
	transparent := wrappedKey(rfcWrapped, "kek", kmip.EncodingOptionNoEncoding, false)
	transparent.KeyBlock.KeyFormatType = kmip.KeyFormatTypeTransparentSymmetricKey
	badLength := wrappedKey(rfcWrapped, "kek", 0, false)
	badLength.KeyBlock.CryptographicLength = 100
	compressed := wrappedKey(rfcWrapped, "kek", 0, false)
	compressed.KeyBlock.KeyCompressionType = kmip.KeyCompressionTypeECPublicKeyTypeUncompressed
	longIV := wrappedKey(rfcWrapped, "kek", 0, false)
	longIV.KeyBlock.KeyWrappingData.IVCounterNonce = seq(65)
	noValue := wrappedKey(rfcWrapped, "kek", 0, false)
	noValue.KeyBlock.KeyValue = nil
	tests := []struct {
		name  string
		key   *kmip.SymmetricKey
		attrs []kmip.Attribute
		want  kmip.ResultReason
	}{
		{"MAC/sign wrapping", mac, nil, kmip.ResultReasonFeatureNotSupported},
		{"no wrapping key named", noKEK, nil, kmip.ResultReasonInvalidField},
		{"Encrypt with a MAC", macData, nil, kmip.ResultReasonInvalidField},
		{"TTLV encoding in a Key Value structure", wrappedKey(rfcWrapped, "kek", kmip.EncodingOptionTTLVEncoding, true), nil, kmip.ResultReasonInvalidField},
		{"No Encoding of a transparent key", transparent, nil, kmip.ResultReasonEncodingOptionError},
		{"unknown Encoding Option", wrappedKey(rfcWrapped, "kek", 9, false), nil, kmip.ResultReasonEncodingOptionError},
		{"empty wrapped value", wrappedKey([]byte{}, "kek", 0, false), nil, kmip.ResultReasonInvalidField},
		{"oversized wrapped value", wrappedKey(make([]byte, 16<<10+1), "kek", 0, false), nil, kmip.ResultReasonInvalidField},
		{"no Key Value", noValue, nil, kmip.ResultReasonInvalidField},
		{"invalid AES length", badLength, nil, kmip.ResultReasonInvalidField},
		{"length differs from attributes", wrappedKey(rfcWrapped, "kek", 0, false), []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(256))}, kmip.ResultReasonInvalidField},
		{"key compression", compressed, nil, kmip.ResultReasonKeyCompressionTypeNotSupported},
		{"IV too long", longIV, nil, kmip.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			fails(t, do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: template(tt.attrs...), Object: tt.key}), tt.want)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}

// TestGetNotWrappedRefuses: the unwrapped form of a key registered wrapped
// needs the wrapping key, held here, usable, and the right one.
func TestGetNotWrappedRefuses(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK, nistKW)
	other := registerKEK(t, f, rfcKEK256, nistKW)
	encryptOnly := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcKEK),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt), attr(kmip.AttributeNameCryptographicParameters, *nistKW), activeSince())
	bobsKEK := createAs(t, f, bob, kmip.V1_4, aesTemplate(128))
	tests := []struct {
		name string
		kek  string
		want kmip.ResultReason
	}{
		{"wrapping key held elsewhere", "elsewhere", kmip.ResultReasonItemNotFound},
		{"another tenant's key", bobsKEK, kmip.ResultReasonItemNotFound},
		{"wrong key", other, kmip.ResultReasonCryptographicFailure},
		{"key without Unwrap Key", encryptOnly, kmip.ResultReasonPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := register(t, f, kmip.V1_4, wrappedKey(rfcWrapped, tt.kek, kmip.EncodingOptionNoEncoding, false))
			fails(t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}), tt.want)
			ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
		})
	}
	t.Run("the named key is right, and rewraps", func(t *testing.T) {
		id := register(t, f, kmip.V1_4, wrappedKey(rfcWrapped, kek, kmip.EncodingOptionNoEncoding, false))
		ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}))
		// Unwrapped under one key, wrapped under another.
		if kb := getWrapped(t, f, kmip.V1_4, id, wrapSpec(other, nistKW, kmip.EncodingOptionNoEncoding)); !bytes.Equal(*kb.KeyValue.Wrapped, rfcWrap256) {
			t.Errorf("rewrapped % x, want % x", *kb.KeyValue.Wrapped, rfcWrap256)
		}
	})
}

// TestGetWrappedRejects: every refusal of a Key Wrapping Specification
// (KMIP 1.4 §11 "Get" errors), before any key material leaves.
func TestGetWrappedRejects(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK, nistKW)
	noParams := registerKEK(t, f, rfcKEK)
	gcm := &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM}
	gcmKEK := registerKEK(t, f, rfcKEK, gcm)
	preActive := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcKEK),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageWrapKey), attr(kmip.AttributeNameCryptographicParameters, *nistKW))
	encryptOnly := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcKEK),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt), attr(kmip.AttributeNameCryptographicParameters, *nistKW), activeSince())
	hmacKEK := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageWrapKey), attr(kmip.AttributeNameCryptographicParameters, *nistKW), activeSince())
	opaque := register(t, f, kmip.V1_4, &kmip.OpaqueObject{OpaqueDataType: 1, OpaqueDataValue: seq(16)})
	bobsKEK := createAs(t, f, bob, kmip.V1_4, aesTemplate(128))
	pkcs15 := &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5}
	_, rsaPub, rsaPriv := registerRSA(t, f, pkcs15)
	dek := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcDEK))
	hmacKey := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmHMACSHA1, 160, seq(20)))
	locked := create(t, f, kmip.V1_4, attr(kmip.AttributeNameExtractable, false))

	spec := func(mod func(*kmip.KeyWrappingSpecification)) *kmip.KeyWrappingSpecification {
		s := wrapSpec(kek, nistKW, 0)
		mod(s)
		return s
	}
	kekIs := func(id string) func(*kmip.KeyWrappingSpecification) {
		return func(s *kmip.KeyWrappingSpecification) { s.EncryptionKeyInformation.UniqueIdentifier = id }
	}
	tests := []struct {
		name string
		req  payloads.GetRequestPayload
		want kmip.ResultReason
	}{
		{"MAC/sign", payloads.GetRequestPayload{KeyWrappingSpecification: spec(func(s *kmip.KeyWrappingSpecification) { s.WrappingMethod = kmip.WrappingMethodMACSign })}, kmip.ResultReasonFeatureNotSupported},
		{"encrypt then MAC/sign", payloads.GetRequestPayload{KeyWrappingSpecification: spec(func(s *kmip.KeyWrappingSpecification) { s.WrappingMethod = kmip.WrappingMethodEncryptThenMACSign })}, kmip.ResultReasonFeatureNotSupported},
		{"MAC/Signature Key Information", payloads.GetRequestPayload{KeyWrappingSpecification: spec(func(s *kmip.KeyWrappingSpecification) {
			s.MACSignatureKeyInformation = &kmip.MACSignatureKeyInformation{UniqueIdentifier: kek}
		})}, kmip.ResultReasonFeatureNotSupported},
		{"no Encryption Key Information", payloads.GetRequestPayload{KeyWrappingSpecification: spec(func(s *kmip.KeyWrappingSpecification) { s.EncryptionKeyInformation = nil })}, kmip.ResultReasonInvalidField},
		{"empty wrapping key id", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(""))}, kmip.ResultReasonInvalidField},
		{"unknown wrapping key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs("no-such-key"))}, kmip.ResultReasonItemNotFound},
		{"another tenant's wrapping key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(bobsKEK))}, kmip.ResultReasonItemNotFound},
		{"wrapping key is not a key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(opaque))}, kmip.ResultReasonIllegalOperation},
		{"wrapping key not active", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(preActive))}, kmip.ResultReasonPermissionDenied},
		{"wrapping key without Wrap Key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(encryptOnly))}, kmip.ResultReasonPermissionDenied},
		{"wrapping key without parameters", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(noParams))}, kmip.ResultReasonItemNotFound},
		{"parameters do not match", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, kwp, 0)}, kmip.ResultReasonItemNotFound},
		{"GCM", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(gcmKEK, gcm, 0)}, kmip.ResultReasonFeatureNotSupported},
		{"HMAC wrapping key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(hmacKEK))}, kmip.ResultReasonFeatureNotSupported},
		{"RSA PKCS#1 v1.5", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(rsaPub, pkcs15, 0)}, kmip.ResultReasonFeatureNotSupported},
		{"wrapping with a private key", payloads.GetRequestPayload{KeyWrappingSpecification: spec(kekIs(rsaPriv))}, kmip.ResultReasonPermissionDenied},
		{"No Encoding with attributes", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, nistKW, kmip.EncodingOptionNoEncoding, kmip.AttributeNameState)}, kmip.ResultReasonEncodingOptionError},
		{"unknown Encoding Option", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, nistKW, 7)}, kmip.ResultReasonEncodingOptionError},
		{"No Encoding of a transparent key", payloads.GetRequestPayload{KeyFormatType: kmip.KeyFormatTypeTransparentSymmetricKey, KeyWrappingSpecification: wrapSpec(kek, nistKW, kmip.EncodingOptionNoEncoding)}, kmip.ResultReasonEncodingOptionError},
		{"too many attribute names", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, nistKW, 0, make([]kmip.AttributeName, 65)...)}, kmip.ResultReasonInvalidField},
		{"undefined attribute name", payloads.GetRequestPayload{KeyWrappingSpecification: wrapSpec(kek, nistKW, 0, "No Such Attribute")}, kmip.ResultReasonInvalidField},
		{"with Key Wrap Type", payloads.GetRequestPayload{KeyWrapType: kmip.NotWrapped, KeyWrappingSpecification: wrapSpec(kek, nistKW, 0)}, kmip.ResultReasonInvalidField},
		{"unknown Key Wrap Type", payloads.GetRequestPayload{KeyWrapType: 9}, kmip.ResultReasonInvalidField},
		{"an object without key block", payloads.GetRequestPayload{UniqueIdentifier: opaque, KeyWrappingSpecification: wrapSpec(kek, nistKW, 0)}, kmip.ResultReasonInvalidField},
		{"NIST Key Wrap of 20 bytes", payloads.GetRequestPayload{UniqueIdentifier: hmacKey, KeyWrappingSpecification: wrapSpec(kek, nistKW, kmip.EncodingOptionNoEncoding)}, kmip.ResultReasonInvalidField},
		{"not extractable", payloads.GetRequestPayload{UniqueIdentifier: locked, KeyWrappingSpecification: wrapSpec(kek, nistKW, 0)}, kmip.ResultReasonNotExtractable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.UniqueIdentifier == "" {
				req.UniqueIdentifier = dek
			}
			resp, _ := f.Execute(t, alice, kmip.NewRequestMessage(kmip.V1_4, &req))
			fails(t, resp.BatchItem[0], tt.want)
			kmiptest.CheckNoLeak(t, resp)
		})
	}
}

// TestGetSensitiveExtractable: a Sensitive key leaves only wrapped (KMIP
// 1.4 §3.48); a key that is not Extractable does not leave at all (§3.50).
// Clients older than 1.4 get Permission Denied, the reasons being new.
func TestGetSensitiveExtractable(t *testing.T) {
	f := kmiptest.New(t)
	kek := registerKEK(t, f, rfcKEK, nistKW)
	sensitive := create(t, f, kmip.V1_4, attr(kmip.AttributeNameSensitive, true))
	locked := create(t, f, kmip.V1_4, attr(kmip.AttributeNameExtractable, false))
	wrappedSensitive := register(t, f, kmip.V1_4, wrappedKey(rfcWrapped, kek, kmip.EncodingOptionNoEncoding, false), attr(kmip.AttributeNameSensitive, true))
	wrap := wrapSpec(kek, nil, 0)
	tests := []struct {
		name string
		v    kmip.ProtocolVersion
		req  payloads.GetRequestPayload
		want kmip.ResultReason // 0: succeeds
	}{
		{"sensitive, plain", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: sensitive}, kmip.ResultReasonSensitive},
		{"sensitive, plain, Not Wrapped", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: sensitive, KeyWrapType: kmip.NotWrapped}, kmip.ResultReasonSensitive},
		{"sensitive, plain, KMIP 1.2", kmip.V1_2, payloads.GetRequestPayload{UniqueIdentifier: sensitive}, kmip.ResultReasonPermissionDenied},
		{"sensitive, wrapped", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: sensitive, KeyWrappingSpecification: wrap}, 0},
		{"sensitive, wrapped, KMIP 1.2", kmip.V1_2, payloads.GetRequestPayload{UniqueIdentifier: sensitive, KeyWrappingSpecification: wrap}, 0},
		{"sensitive, registered wrapped", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: wrappedSensitive, KeyWrapType: kmip.AsRegistered}, 0},
		{"sensitive, registered wrapped, Not Wrapped", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: wrappedSensitive, KeyWrapType: kmip.NotWrapped}, kmip.ResultReasonSensitive},
		{"not extractable", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: locked}, kmip.ResultReasonNotExtractable},
		{"not extractable, wrapped", kmip.V1_4, payloads.GetRequestPayload{UniqueIdentifier: locked, KeyWrappingSpecification: wrap}, kmip.ResultReasonNotExtractable},
		{"not extractable, KMIP 1.3", kmip.V1_3, payloads.GetRequestPayload{UniqueIdentifier: locked}, kmip.ResultReasonPermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi := do(t, f, tt.v, &tt.req)
			if tt.want != 0 {
				fails(t, bi, tt.want)
				return
			}
			ok[*payloads.GetResponsePayload](t, bi)
		})
	}
	t.Run("usable as a wrapping key", func(t *testing.T) {
		lockedKEK := registerKEK(t, f, rfcKEK256, nistKW)
		ok[*payloads.ModifyAttributeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: lockedKEK, Attribute: attr(kmip.AttributeNameExtractable, false)}))
		ok[*payloads.ModifyAttributeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: lockedKEK, Attribute: attr(kmip.AttributeNameSensitive, true)}))
		getWrapped(t, f, kmip.V1_4, sensitive, wrapSpec(lockedKEK, nistKW, 0))
	})
}
