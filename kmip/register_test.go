package kmip_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func rawKey(alg kmip.CryptographicAlgorithm, bits int32, material []byte) *kmip.SymmetricKey {
	m := material
	return &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &m}}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    bits,
	}}
}

func transparentKey(alg kmip.CryptographicAlgorithm, bits int32, material []byte) *kmip.SymmetricKey {
	return &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType: kmip.KeyFormatTypeTransparentSymmetricKey,
		KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{
			TransparentSymmetricKey: &kmip.TransparentSymmetricKey{Key: material},
		}}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    bits,
	}}
}

func secretData(material []byte) *kmip.SecretData {
	m := material
	return &kmip.SecretData{SecretDataType: kmip.SecretDataTypeSeed, KeyBlock: kmip.KeyBlock{
		KeyFormatType: kmip.KeyFormatTypeOpaque,
		KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &m}}},
	}}
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func register(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, obj kmip.Object, attrs ...kmip.Attribute) string {
	t.Helper()
	bi := do(t, f, v, &payloads.RegisterRequestPayload{ObjectType: obj.ObjectType(), TemplateAttribute: template(attrs...), Object: obj})
	id := ok[*payloads.RegisterResponsePayload](t, bi).UniqueIdentifier
	if id == "" {
		t.Fatal("Register returned no id")
	}
	return id
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name  string
		obj   kmip.Object
		attrs []kmip.Attribute
		want  []byte // what Get returns, in the stored format
	}{
		{"AES-128 raw", rawKey(kmip.CryptographicAlgorithmAES, 128, seq(16)), nil, seq(16)},
		{"AES-256 raw, attributes only", rawKey(0, 0, seq(32)), []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
			attr(kmip.AttributeNameCryptographicLength, int32(256)),
		}, seq(32)},
		{"AES-256 transparent", transparentKey(kmip.CryptographicAlgorithmAES, 256, seq(32)), nil, seq(32)},
		{"HMAC-SHA256 raw", rawKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)), nil, seq(32)},
		// libmongocrypt: 96 bytes of Secret Data, usage mask 0.
		{"secret data seed", secretData(seq(96)), []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageMask(0))}, seq(96)},
		{"opaque", &kmip.OpaqueObject{OpaqueDataType: 0x80000001, OpaqueDataValue: seq(300)}, nil, seq(300)},
	}
	for _, tt := range tests {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_2, kmip.V1_4} {
			t.Run(tt.name+"/"+vname(v), func(t *testing.T) {
				f := kmiptest.New(t)
				id := register(t, f, v, tt.obj, tt.attrs...)
				got := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id}))
				if got.ObjectType != tt.obj.ObjectType() || got.UniqueIdentifier != id {
					t.Fatalf("Get answered %v %q", got.ObjectType, got.UniqueIdentifier)
				}
				if b := objectBytes(t, got.Object); !bytes.Equal(b, tt.want) {
					t.Errorf("Get returned % x, want % x", b, tt.want)
				}
				d, found := value(getAttrs(t, f, v, id, kmip.AttributeNameDigest), kmip.AttributeNameDigest)
				if !found {
					t.Fatal("no Digest")
				}
				sum := sha256.Sum256(tt.want)
				if _, transparent := tt.obj.(*kmip.SymmetricKey); transparent && tt.obj.(*kmip.SymmetricKey).KeyBlock.KeyFormatType == kmip.KeyFormatTypeTransparentSymmetricKey {
					// Structured formats are digested as their TTLV Key Material.
					enc := ttlv.NewTTLVEncoder()
					enc.TagAny(kmip.TagKeyMaterial, &tt.obj.(*kmip.SymmetricKey).KeyBlock.KeyValue.Plain.KeyMaterial)
					sum = sha256.Sum256(enc.Bytes())
				}
				if dv := d.(kmip.Digest); !bytes.Equal(dv.DigestValue, sum[:]) || dv.HashingAlgorithm != kmip.HashingAlgorithmSHA_256 {
					t.Errorf("Digest = %+v, want SHA-256 % x", dv, sum)
				}
			})
		}
	}
}

// objectBytes returns the plaintext of a Get response object.
func objectBytes(t *testing.T, obj kmip.Object) []byte {
	t.Helper()
	switch o := obj.(type) {
	case *kmip.OpaqueObject:
		return o.OpaqueDataValue
	case *kmip.SecretData:
		b, err := o.KeyBlock.GetBytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	case *kmip.SymmetricKey:
		m, err := o.KeyBlock.GetMaterial()
		if err != nil {
			t.Fatal(err)
		}
		if m.TransparentSymmetricKey != nil {
			return m.TransparentSymmetricKey.Key
		}
		if m.Bytes != nil {
			return *m.Bytes
		}
	}
	t.Fatalf("no key bytes in %T", obj)
	return nil
}

func TestRegisterRejects(t *testing.T) {
	wrapped := rawKey(kmip.CryptographicAlgorithmAES, 256, seq(40))
	wrapped.KeyBlock.KeyWrappingData = &kmip.KeyWrappingData{
		WrappingMethod:           kmip.WrappingMethodEncrypt,
		EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: "kek"},
	}
	wrappedValue := rawKey(kmip.CryptographicAlgorithmAES, 256, nil)
	wv := seq(40)
	wrappedValue.KeyBlock.KeyValue = &kmip.KeyValue{Wrapped: &wv}
	wrappedValue.KeyBlock.KeyWrappingData = wrapped.KeyBlock.KeyWrappingData
	pkcs1 := rawKey(kmip.CryptographicAlgorithmAES, 256, seq(32))
	pkcs1.KeyBlock.KeyFormatType = kmip.KeyFormatTypePKCS_1
	tests := []struct {
		name  string
		typ   kmip.ObjectType
		obj   kmip.Object
		attrs []kmip.Attribute
		want  []kmip.ResultReason
	}{
		{"AES-256 with 16 bytes", kmip.ObjectTypeSymmetricKey, rawKey(kmip.CryptographicAlgorithmAES, 256, seq(16)), nil, invalidField},
		{"AES-128 with 17 bytes", kmip.ObjectTypeSymmetricKey, transparentKey(kmip.CryptographicAlgorithmAES, 128, seq(17)), nil, invalidField},
		{"attribute length differs from block", kmip.ObjectTypeSymmetricKey, rawKey(kmip.CryptographicAlgorithmAES, 256, seq(32)),
			[]kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(128))}, invalidField},
		{"attribute algorithm differs from block", kmip.ObjectTypeSymmetricKey, rawKey(kmip.CryptographicAlgorithmAES, 256, seq(32)),
			[]kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithm3DES)}, invalidField},
		{"empty key", kmip.ObjectTypeSymmetricKey, rawKey(kmip.CryptographicAlgorithmAES, 256, []byte{}), nil, invalidField},
		{"empty opaque", kmip.ObjectTypeOpaqueObject, &kmip.OpaqueObject{OpaqueDataType: 1}, nil, invalidField},
		{"symmetric key in PKCS#1", kmip.ObjectTypeSymmetricKey, pkcs1, nil, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported, kmip.ResultReasonInvalidField}},
		{"wrapped key without a byte-string value", kmip.ObjectTypeSymmetricKey, wrapped, nil, invalidField},
		{"certificate", kmip.ObjectTypeCertificate, &kmip.Certificate{CertificateType: kmip.CertificateTypeX_509, CertificateValue: seq(64)}, nil, invalidField},
		{"server-set attribute", kmip.ObjectTypeSymmetricKey, rawKey(kmip.CryptographicAlgorithmAES, 128, seq(16)),
			[]kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateActive)}, permissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: tt.typ, TemplateAttribute: template(tt.attrs...), Object: tt.obj})
			fails(t, bi, tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}

// TestRegisterWrongObjectType: the Object Type field and the object differ.
// The TTLV decoder would refuse such a message, so it is handed over as is.
func TestRegisterWrongObjectType(t *testing.T) {
	for _, tt := range []struct {
		name string
		typ  kmip.ObjectType
		obj  kmip.Object
	}{
		{"key as secret data", kmip.ObjectTypeSecretData, rawKey(kmip.CryptographicAlgorithmAES, 128, seq(16))},
		{"opaque as key", kmip.ObjectTypeSymmetricKey, &kmip.OpaqueObject{OpaqueDataType: 1, OpaqueDataValue: seq(4)}},
		{"no object", kmip.ObjectTypeSymmetricKey, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			req := kmip.NewRequestMessage(kmip.V1_2, &payloads.RegisterRequestPayload{ObjectType: tt.typ, Object: tt.obj})
			resp, _ := f.ExecuteDirect(t, alice, &req)
			fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidField)
		})
	}
}

// TestRegisterKeyBlockCompleted: KMIP 1.4 §2.1.3 requires Cryptographic
// Algorithm and Length in a symmetric key's Key Block ("MAY be omitted only
// if this information is available from the Key Value"), so a key
// registered with them only as attributes comes back with them in its block.
func TestRegisterKeyBlockCompleted(t *testing.T) {
	f := kmiptest.New(t)
	id := register(t, f, kmip.V1_2, rawKey(0, 0, seq(32)),
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, int32(256)))
	for _, format := range []kmip.KeyFormatType{0, kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeTransparentSymmetricKey} {
		kb := keyBlock(t, get(t, f, id, format))
		if kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES || kb.CryptographicLength != 256 {
			t.Errorf("format %v: key block says %v/%d, want AES/256", format, kb.CryptographicAlgorithm, kb.CryptographicLength)
		}
	}
}

// The digest of a key registered as a Transparent Symmetric Key is the one
// OASIS test case TC-181 records.
func TestTransparentKeyDigest(t *testing.T) {
	f := kmiptest.New(t)
	key, _ := hex.DecodeString("0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff")
	id := register(t, f, kmip.V1_1, transparentKey(kmip.CryptographicAlgorithmAES, 256, key))
	d, _ := value(getAttrs(t, f, kmip.V1_1, id, kmip.AttributeNameDigest), kmip.AttributeNameDigest)
	want := "499ce96ff6f5e19fe9fe7a2fe4c3e92b88db0001a4e8df28d9966856b6c4b87c"
	if dv, ok := d.(kmip.Digest); !ok || hex.EncodeToString(dv.DigestValue) != want || dv.KeyFormatType != kmip.KeyFormatTypeTransparentSymmetricKey {
		t.Errorf("Digest = %+v, want %s over Transparent Symmetric Key", d, want)
	}
}
