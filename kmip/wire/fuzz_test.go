package wire

import (
	"bytes"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// FuzzValidate checks that Validate and PeekVersion never panic, and that
// whatever Validate accepts is framed identically by ReadMessage and can be
// handed to the kmip-go decoder without a panic. Decode errors are fine: the
// decoder also checks which tags may appear where, which is not this
// package's job.
func FuzzValidate(f *testing.F) {
	create := kmip.NewRequestMessage(kmip.V1_4, &payloads.CreateRequestPayload{
		ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
			{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(128)},
		}},
	})
	create.Header.Authentication = &kmip.Authentication{Credential: kmip.Credential{
		CredentialType: kmip.CredentialTypeUsernameAndPassword,
		CredentialValue: kmip.CredentialValue{
			UserPassword: &kmip.CredentialValueUserPassword{Username: "u", Password: "p"}},
	}}
	register := kmip.NewRequestMessage(kmip.V1_0, &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeSymmetricKey,
		Object: &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
			KeyFormatType: kmip.KeyFormatTypeRaw,
			KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &[]byte{1, 2, 3}}}},
		}},
	})
	seeds := [][]byte{
		ttlv.MarshalTTLV(&create),
		ttlv.MarshalTTLV(&register),
		ttlv.MarshalTTLV(kmip.NewRequestMessage(kmip.V1_2,
			&payloads.GetRequestPayload{UniqueIdentifier: "1"},
			&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{
				{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeSymmetricKey}}},
			&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})),
		request(),
		request(
			item(tagObjectType, typeLongInteger, make([]byte, 8)),
			item(tagObjectType, typeBigInteger, make([]byte, 8)),
			item(tagObjectType, typeBoolean, make([]byte, 8)),
			item(tagObjectType, typeTextString, []byte("abc")),
			item(tagObjectType, typeByteString, []byte{1, 2, 3}),
			item(tagObjectType, typeDateTime, make([]byte, 8)),
			item(tagObjectType, typeInterval, make([]byte, 4)),
		),
		request(raw(tagObjectType, typeInteger, 2, make([]byte, 8))),
		request(nested(8)),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		err := Validate(msg, Limits{})
		PeekVersion(msg)
		if err != nil {
			return
		}
		got, err := ReadMessage(bytes.NewReader(msg), Limits{})
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("Validate accepts but ReadMessage returns %d bytes, %v", len(got), err)
		}
		var req kmip.RequestMessage
		if decodeNoPanic(t, msg, &req) != nil {
			return
		}
		major, minor, ok := PeekVersion(msg)
		want := req.Header.ProtocolVersion
		if !ok || major != want.ProtocolVersionMajor || minor != want.ProtocolVersionMinor {
			t.Fatalf("PeekVersion() = %d, %d, %v; decoder read %s", major, minor, ok, want)
		}
	})
}

// decodeNoPanic runs the kmip-go decoder and fails the test if it panics.
func decodeNoPanic(t *testing.T, msg []byte, req *kmip.RequestMessage) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("kmip-go decoder panicked on a validated message: %v", r)
		}
	}()
	return ttlv.UnmarshalTTLV(msg, req)
}
