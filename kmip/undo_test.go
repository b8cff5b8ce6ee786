package kmip_test

import (
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func undoBatch(items ...kmip.OperationPayload) kmip.RequestMessage {
	m := kmip.NewRequestMessage(kmip.V1_4, items...)
	m.Header.BatchErrorContinuationOption = kmip.BatchErrorContinuationOptionUndo
	return m
}

// With Batch Error Continuation Option Undo, a failing item reverts every
// change the items before it made: a key created, another one activated
// and tagged; those items answer Operation Undone and the rest is cancelled.
func TestBatchUndo(t *testing.T) {
	f := kmiptest.New(t)
	existing := create(t, f, kmip.V1_4)
	before := f.FSM.Count()
	resp, _ := f.Execute(t, alice, undoBatch(
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.ActivateRequestPayload{UniqueIdentifier: existing},
		&payloads.AddAttributeRequestPayload{UniqueIdentifier: existing, Attribute: attr("x-tag", custom("t"))},
		&payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"},
		&payloads.DestroyRequestPayload{UniqueIdentifier: existing},
	))
	want := []kmip.ResultStatus{kmip.ResultStatusOperationUndone, kmip.ResultStatusOperationUndone, kmip.ResultStatusOperationUndone,
		kmip.ResultStatusOperationFailed, kmip.ResultStatusOperationFailed}
	for i, bi := range resp.BatchItem {
		if bi.ResultStatus != want[i] {
			t.Errorf("item %d (%v): status %v, want %v", i, bi.Operation, bi.ResultStatus, want[i])
		}
	}
	if f.FSM.Count() != before {
		t.Errorf("%d objects after the undo, want %d: the created key was not removed", f.FSM.Count(), before)
	}
	if s := state(t, f, kmip.V1_4, existing); s != kmip.StatePreActive {
		t.Errorf("State = %v after the undo, want Pre-Active", s)
	}
	if _, tagged := value(getAttrs(t, f, kmip.V1_4, existing), "x-tag"); tagged {
		t.Error("the added attribute survived the undo")
	}
}

// A batch that succeeds with Undo behaves like any other.
func TestBatchUndoNotNeeded(t *testing.T) {
	f := kmiptest.New(t)
	resp, _ := f.Execute(t, alice, undoBatch(
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)},
		&payloads.ActivateRequestPayload{},
	))
	for i, bi := range resp.BatchItem {
		if bi.ResultStatus != kmip.ResultStatusSuccess {
			t.Errorf("item %d: %v", i, bi.ResultStatus)
		}
	}
}
