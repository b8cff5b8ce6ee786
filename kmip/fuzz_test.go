package kmip_test

import (
	"context"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/kmip/wire"
)

// FuzzExecute feeds arbitrary messages that pass the wire checks and decode
// to the service: it must answer every one with a response that encodes and
// decodes again, without panicking (internal panics are recovered per item
// and would show up in the fixture's logs).
func FuzzExecute(f *testing.F) {
	seeds := []kmip.OperationPayload{
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.LocateRequestPayload{},
		&payloads.GetRequestPayload{},
		&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations, kmip.QueryFunctionCapabilities}},
		&payloads.CreateKeyPairRequestPayload{CommonTemplateAttribute: &kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA), attr(kmip.AttributeNameCryptographicLength, int32(1024)),
		}}},
	}
	for _, v := range allVersions {
		msg := kmip.NewRequestMessage(v, seeds...)
		f.Add(ttlv.MarshalTTLV(&msg))
	}
	fx := kmiptest.New(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if wire.Validate(data, wire.Limits{}) != nil {
			return
		}
		req := &kmip.RequestMessage{}
		if !decodes(data, req) {
			return
		}
		out := fx.Service.Execute(context.Background(), alice, req)
		resp := &kmip.ResponseMessage{}
		if err := ttlv.UnmarshalTTLV(out, resp); err != nil {
			t.Fatalf("the service answered with an undecodable response: %v", err)
		}
		kmiptest.CheckNoLeak(t, resp)
	})
}

// decodes runs the TTLV decoder as the server does, behind a recover.
func decodes(data []byte, req *kmip.RequestMessage) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return ttlv.UnmarshalTTLV(data, req) == nil
}
