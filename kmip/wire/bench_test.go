package wire

import (
	"bytes"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// createRequest is what a client sends to create an AES-256 key with a name,
// as kmsctl bench and most clients do.
func createRequest() *kmip.RequestMessage {
	return &kmip.RequestMessage{
		Header: kmip.RequestHeader{ProtocolVersion: kmip.V1_4, BatchCount: 1},
		BatchItem: []kmip.RequestBatchItem{{
			Operation: kmip.OperationCreate,
			RequestPayload: &payloads.CreateRequestPayload{
				ObjectType: kmip.ObjectTypeSymmetricKey,
				TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
					{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
					{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
					{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt},
					{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{NameValue: "bench-0001234", NameType: kmip.NameTypeUninterpretedTextString}},
				}},
			},
		}},
	}
}

// getResponse is the answer to a Get of an AES-256 key.
func getResponse() *kmip.ResponseMessage {
	return &kmip.ResponseMessage{
		Header: kmip.ResponseHeader{ProtocolVersion: kmip.V1_4, BatchCount: 1},
		BatchItem: []kmip.ResponseBatchItem{{
			Operation:    kmip.OperationGet,
			ResultStatus: kmip.ResultStatusSuccess,
			ResponsePayload: &payloads.GetResponsePayload{
				ObjectType:       kmip.ObjectTypeSymmetricKey,
				UniqueIdentifier: "0f6c3a52-6f2c-4d1e-9a3b-29d1c0a1e7f4",
				Object: &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
					KeyFormatType: kmip.KeyFormatTypeRaw,
					KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{
						KeyMaterial: kmip.KeyMaterial{Bytes: new(bytes.Repeat([]byte{0x5a}, 32))},
					}},
					CryptographicAlgorithm: kmip.CryptographicAlgorithmAES,
					CryptographicLength:    256,
				}},
			},
		}},
	}
}

// The server's path for one request: frame and validate it (ReadMessage),
// decode it (kmip-go), and encode the response.

func BenchmarkReadMessage(b *testing.B) {
	msg := ttlv.MarshalTTLV(createRequest())
	b.SetBytes(int64(len(msg)))
	r := bytes.NewReader(msg)
	for b.Loop() {
		r.Reset(msg)
		if _, err := ReadMessage(r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCreateRequest(b *testing.B) {
	msg := ttlv.MarshalTTLV(createRequest())
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var req kmip.RequestMessage
		if err := ttlv.UnmarshalTTLV(msg, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeGetResponse(b *testing.B) {
	resp := getResponse()
	b.SetBytes(int64(len(ttlv.MarshalTTLV(resp))))
	for b.Loop() {
		_ = ttlv.MarshalTTLV(resp)
	}
}
