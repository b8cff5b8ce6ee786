package kmip_test

import (
	"bytes"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func get(t *testing.T, f *kmiptest.Fixture, id string, format kmip.KeyFormatType) kmip.ResponseBatchItem {
	t.Helper()
	return do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyFormatType: format})
}

func keyBlock(t *testing.T, bi kmip.ResponseBatchItem) *kmip.KeyBlock {
	t.Helper()
	key, isKey := ok[*payloads.GetResponsePayload](t, bi).Object.(*kmip.SymmetricKey)
	if !isKey {
		t.Fatal("Get did not return a symmetric key")
	}
	return &key.KeyBlock
}

func TestGetFormats(t *testing.T) {
	f := kmiptest.New(t)
	created := create(t, f, kmip.V1_4)
	registered := register(t, f, kmip.V1_4, transparentKey(kmip.CryptographicAlgorithmAES, 128, seq(16)))

	stored := keyBlock(t, get(t, f, created, 0))
	if stored.KeyFormatType != kmip.KeyFormatTypeRaw {
		t.Fatalf("created key stored as %v, want Raw", stored.KeyFormatType)
	}
	material := objectBytes(t, &kmip.SymmetricKey{KeyBlock: *stored})

	tests := []struct {
		name   string
		id     string
		format kmip.KeyFormatType
		want   []byte
		bits   int32
	}{
		{"raw as raw", created, kmip.KeyFormatTypeRaw, material, 256},
		{"raw as transparent", created, kmip.KeyFormatTypeTransparentSymmetricKey, material, 256},
		{"transparent as stored", registered, 0, seq(16), 128},
		{"transparent as raw", registered, kmip.KeyFormatTypeRaw, seq(16), 128},
		{"transparent as transparent", registered, kmip.KeyFormatTypeTransparentSymmetricKey, seq(16), 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kb := keyBlock(t, get(t, f, tt.id, tt.format))
			if tt.format != 0 && kb.KeyFormatType != tt.format {
				t.Errorf("format %v, want %v", kb.KeyFormatType, tt.format)
			}
			m, err := kb.GetMaterial()
			if err != nil {
				t.Fatal(err)
			}
			if (kb.KeyFormatType == kmip.KeyFormatTypeRaw) != (m.Bytes != nil) || (kb.KeyFormatType == kmip.KeyFormatTypeTransparentSymmetricKey) != (m.TransparentSymmetricKey != nil) {
				t.Errorf("key material %+v does not match format %v", m, kb.KeyFormatType)
			}
			if b := objectBytes(t, &kmip.SymmetricKey{KeyBlock: *kb}); !bytes.Equal(b, tt.want) {
				t.Error("key material differs")
			}
			if kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES || kb.CryptographicLength != tt.bits {
				t.Errorf("key block says %v/%d", kb.CryptographicAlgorithm, kb.CryptographicLength)
			}
			if len(kb.GetAttributes()) != 0 {
				t.Error("Key Value carries Attribute elements")
			}
		})
	}
}

func TestGetRejects(t *testing.T) {
	f := kmiptest.New(t)
	key := create(t, f, kmip.V1_4)
	secret := register(t, f, kmip.V1_4, secretData(seq(32)))
	opaque := register(t, f, kmip.V1_4, &kmip.OpaqueObject{OpaqueDataType: 1, OpaqueDataValue: seq(8)})
	bobs := createAs(t, f, bob, kmip.V1_4, aesTemplate(128))
	destroyed := create(t, f, kmip.V1_4)
	ok[*payloads.DestroyResponsePayload](t, do(t, f, kmip.V1_4, &payloads.DestroyRequestPayload{UniqueIdentifier: destroyed}))
	locked := create(t, f, kmip.V1_4, attr(kmip.AttributeNameExtractable, false))

	tests := []struct {
		name string
		req  *payloads.GetRequestPayload
		want []kmip.ResultReason
	}{
		{"symmetric key as PKCS#1", &payloads.GetRequestPayload{UniqueIdentifier: key, KeyFormatType: kmip.KeyFormatTypePKCS_1}, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"symmetric key as X.509", &payloads.GetRequestPayload{UniqueIdentifier: key, KeyFormatType: kmip.KeyFormatTypeX_509}, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"secret data as transparent", &payloads.GetRequestPayload{UniqueIdentifier: secret, KeyFormatType: kmip.KeyFormatTypeTransparentSymmetricKey}, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"opaque object as raw", &payloads.GetRequestPayload{UniqueIdentifier: opaque, KeyFormatType: kmip.KeyFormatTypeRaw}, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"other tenant", &payloads.GetRequestPayload{UniqueIdentifier: bobs}, []kmip.ResultReason{kmip.ResultReasonItemNotFound}},
		{"unknown id", &payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"}, []kmip.ResultReason{kmip.ResultReasonItemNotFound}},
		{"no id, no placeholder", &payloads.GetRequestPayload{}, []kmip.ResultReason{kmip.ResultReasonMissingData, kmip.ResultReasonItemNotFound, kmip.ResultReasonInvalidField}},
		{"destroyed", &payloads.GetRequestPayload{UniqueIdentifier: destroyed}, []kmip.ResultReason{kmip.ResultReasonPermissionDenied, kmip.ResultReasonItemNotFound, kmip.ResultReasonKeyValueNotPresent}},
		{"not extractable", &payloads.GetRequestPayload{UniqueIdentifier: locked}, []kmip.ResultReason{kmip.ResultReasonPermissionDenied, kmip.ResultReasonNotExtractable}},
		{"MAC/sign key wrapping", &payloads.GetRequestPayload{UniqueIdentifier: key, KeyWrappingSpecification: &kmip.KeyWrappingSpecification{
			WrappingMethod: kmip.WrappingMethodMACSign, EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: key},
		}}, []kmip.ResultReason{kmip.ResultReasonFeatureNotSupported}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, do(t, f, kmip.V1_4, tt.req), tt.want...)
		})
	}
}

// TestOtherTenantInvisible: every operation on another tenant's object
// answers exactly as for an object that does not exist.
func TestOtherTenantInvisible(t *testing.T) {
	f := kmiptest.New(t)
	id := createAs(t, f, bob, kmip.V1_4, aesTemplate(128))
	for _, pl := range []kmip.OperationPayload{
		&payloads.GetRequestPayload{UniqueIdentifier: id},
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: id},
		&payloads.GetAttributeListRequestPayload{UniqueIdentifier: id},
		&payloads.ActivateRequestPayload{UniqueIdentifier: id},
		&payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise}},
		&payloads.DestroyRequestPayload{UniqueIdentifier: id},
	} {
		t.Run(ttlv.EnumStr(pl.Operation()), func(t *testing.T) {
			fails(t, do(t, f, kmip.V1_4, pl), kmip.ResultReasonItemNotFound)
		})
	}
	located := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_4, &payloads.LocateRequestPayload{}))
	if len(located.UniqueIdentifier) != 0 {
		t.Errorf("alice locates bob's objects: %v", located.UniqueIdentifier)
	}
	if s := state(t, f, kmip.V1_4, createAs(t, f, alice, kmip.V1_4, aesTemplate(128))); s != kmip.StatePreActive {
		t.Errorf("state %v", s)
	}
	bi := exec(t, f, bob, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})[0]
	ok[*payloads.GetResponsePayload](t, bi)
}
