package kmip_test

import (
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// A Locate filter on an attribute the request's version does not define is
// refused, as on Create and Register: a 1.0 client cannot search by Fresh.
func TestLocateRefusesUndefinedAttributes(t *testing.T) {
	f := kmiptest.New(t)
	create(t, f, kmip.V1_1)
	fresh := &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{attr(kmip.AttributeNameFresh, true)}}
	fails(t, do(t, f, kmip.V1_0, fresh), kmip.ResultReasonInvalidField)
	if got := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_1, fresh)); len(got.UniqueIdentifier) != 1 {
		t.Errorf("a 1.1 Locate by Fresh found %v, want the fresh key", got.UniqueIdentifier)
	}
}

// OASIS TC-171: Get Attributes naming the same attribute twice is an
// invalid message.
func TestGetAttributesDuplicateName(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2)
	req := &payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: []kmip.AttributeName{kmip.AttributeNameState, kmip.AttributeNameState}}
	fails(t, do(t, f, kmip.V1_2, req), kmip.ResultReasonInvalidMessage)
}

// The server sets Original Creation Date only on objects it made itself: it
// cannot know when a registered key was first created.
func TestOriginalCreationDate(t *testing.T) {
	f := kmiptest.New(t)
	created := create(t, f, kmip.V1_2)
	if _, ok := value(getAttrs(t, f, kmip.V1_2, created), kmip.AttributeNameOriginalCreationDate); !ok {
		t.Error("a created key has no Original Creation Date")
	}
	registered := ok[*payloads.RegisterResponsePayload](t, do(t, f, kmip.V1_2, &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeOpaqueObject, Object: &kmip.OpaqueObject{OpaqueDataType: 0x80000001, OpaqueDataValue: []byte("blob")},
	})).UniqueIdentifier
	if v, ok := value(getAttrs(t, f, kmip.V1_2, registered), kmip.AttributeNameOriginalCreationDate); ok {
		t.Errorf("a registered object got Original Creation Date %v", v)
	}
}

// KMIP 1.2 metadata-only objects (OASIS TC-MDO): a key registered without
// its Key Value is stored with Key Value Present false and comes back
// without one; KMIP 1.0 and 1.1 do not know such objects.
func TestMetadataOnlyKey(t *testing.T) {
	f := kmiptest.New(t)
	mdo := &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{KeyFormatType: kmip.KeyFormatTypeRaw, CryptographicAlgorithm: kmip.CryptographicAlgorithmAES, CryptographicLength: 128}}
	loc := attr(kmip.AttributeNameKeyValueLocation, kmip.KeyValueLocation{KeyValueLocationValue: "HSM-12345", KeyValueLocationType: kmip.KeyValueLocationTypeUninterpretedTextString})
	fails(t, do(t, f, kmip.V1_1, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, Object: mdo}), kmip.ResultReasonInvalidField)
	id := ok[*payloads.RegisterResponsePayload](t, do(t, f, kmip.V1_2, &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeSymmetricKey, Object: mdo, TemplateAttribute: template(loc),
	})).UniqueIdentifier
	if v, _ := value(getAttrs(t, f, kmip.V1_2, id), kmip.AttributeNameKeyValuePresent); v != false {
		t.Errorf("Key Value Present = %v, want false", v)
	}
	got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_2, &payloads.GetRequestPayload{UniqueIdentifier: id}))
	if key, isKey := got.Object.(*kmip.SymmetricKey); !isKey || key.KeyBlock.KeyValue != nil {
		t.Errorf("Get returned %+v, want a key block without a value", got.Object)
	}
}
