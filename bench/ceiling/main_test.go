package main

import (
	"context"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
)

func exec(t *testing.T, s *store, pls ...kmip.OperationPayload) []kmip.ResponseBatchItem {
	t.Helper()
	req := kmip.NewRequestMessage(kmip.V1_4, pls...)
	resp := s.executor().HandleRequest(context.Background(), &req)
	if len(resp.BatchItem) != len(pls) {
		t.Fatalf("%d batch items for %d requests", len(resp.BatchItem), len(pls))
	}
	for i, bi := range resp.BatchItem {
		if bi.ResultStatus != kmip.ResultStatusSuccess {
			t.Fatalf("item %d (%v): %v %s", i, bi.Operation, bi.ResultReason, bi.ResultMessage)
		}
	}
	return resp.BatchItem
}

func TestOperations(t *testing.T) {
	s := &store{objects: map[string]*object{}, byName: map[string][]string{}}
	name := kmip.Attribute{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{NameValue: "k", NameType: kmip.NameTypeUninterpretedTextString}}
	items := exec(t, s,
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{name}}},
		&payloads.ActivateRequestPayload{},
		&payloads.GetRequestPayload{},
	)
	id := items[0].ResponsePayload.(*payloads.CreateResponsePayload).UniqueIdentifier
	got := items[2].ResponsePayload.(*payloads.GetResponsePayload)
	if b, err := got.Object.(*kmip.SymmetricKey).KeyBlock.GetBytes(); err != nil || len(b) != 32 || got.UniqueIdentifier != id {
		t.Errorf("get %s: %d bytes, %v", got.UniqueIdentifier, len(b), err)
	}

	items = exec(t, s,
		&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{name}},
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: []kmip.AttributeName{kmip.AttributeNameState}},
		&payloads.RevokeRequestPayload{UniqueIdentifier: id},
		&payloads.DestroyRequestPayload{UniqueIdentifier: id},
		&payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSecretData, Object: &kmip.SecretData{SecretDataType: kmip.SecretDataTypeSeed}},
	)
	if ids := items[0].ResponsePayload.(*payloads.LocateResponsePayload).UniqueIdentifier; len(ids) != 1 || ids[0] != id {
		t.Errorf("locate by name = %v, want [%s]", ids, id)
	}
	if attrs := items[1].ResponsePayload.(*payloads.GetAttributesResponsePayload).Attribute; len(attrs) != 1 || attrs[0].AttributeValue != kmip.StateActive {
		t.Errorf("state attributes = %v, want Active", attrs)
	}
	if o := s.objects[id]; o.state != kmip.StateDestroyed {
		t.Errorf("state after destroy = %v", o.state)
	}
	if len(s.objects) != 2 {
		t.Errorf("%d objects, want 2", len(s.objects))
	}
}
