package kmip_test

import (
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func activate(id string) kmip.OperationPayload {
	return &payloads.ActivateRequestPayload{UniqueIdentifier: id}
}

func revoke(id string, code kmip.RevocationReasonCode) kmip.OperationPayload {
	return &payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: code, RevocationMessage: "test"}}
}

func destroy(id string) kmip.OperationPayload {
	return &payloads.DestroyRequestPayload{UniqueIdentifier: id}
}

// TestLifecycle walks the KMIP 1.4 §3.22 state transitions: each step is an
// operation and either the state it leads to or the failure it must get.
func TestLifecycle(t *testing.T) {
	type step struct {
		op    func(id string) kmip.OperationPayload
		state kmip.State // after a success
		fail  kmip.ResultReason
	}
	compromise := func(id string) kmip.OperationPayload { return revoke(id, kmip.RevocationReasonCodeKeyCompromise) }
	superseded := func(id string) kmip.OperationPayload { return revoke(id, kmip.RevocationReasonCodeSuperseded) }
	denied := kmip.ResultReasonPermissionDenied
	tests := []struct {
		name  string
		steps []step
	}{
		{"activate twice", []step{{op: activate, state: kmip.StateActive}, {op: activate, fail: denied}}},
		{"destroy pre-active", []step{{op: destroy, state: kmip.StateDestroyed}, {op: destroy, fail: denied}, {op: activate, fail: denied}}},
		{"active cannot be destroyed", []step{{op: activate, state: kmip.StateActive}, {op: destroy, fail: denied}}},
		{"deactivate then destroy", []step{{op: activate, state: kmip.StateActive}, {op: superseded, state: kmip.StateDeactivated}, {op: activate, fail: denied}, {op: destroy, state: kmip.StateDestroyed}}},
		{"revoke pre-active without compromise", []step{{op: superseded, fail: denied}}},
		{"compromise pre-active", []step{{op: compromise, state: kmip.StateCompromised}, {op: activate, fail: denied}, {op: destroy, state: kmip.StateDestroyedCompromised}}},
		{"compromise active", []step{{op: activate, state: kmip.StateActive}, {op: compromise, state: kmip.StateCompromised}}},
		{"compromise deactivated", []step{{op: activate, state: kmip.StateActive}, {op: superseded, state: kmip.StateDeactivated}, {op: compromise, state: kmip.StateCompromised}}},
		{"compromise destroyed", []step{{op: destroy, state: kmip.StateDestroyed}, {op: compromise, state: kmip.StateDestroyedCompromised}, {op: compromise, fail: denied}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			id := create(t, f, kmip.V1_4)
			for i, s := range tt.steps {
				f.Clock.Advance(time.Minute)
				bi := do(t, f, kmip.V1_4, s.op(id))
				if s.fail != 0 {
					fails(t, bi, s.fail)
					continue
				}
				if bi.ResultStatus != kmip.ResultStatusSuccess {
					t.Fatalf("step %d: %v", i, bi.Err())
				}
				if got := state(t, f, kmip.V1_4, id); got != s.state {
					t.Fatalf("step %d: state %v, want %v", i, got, s.state)
				}
			}
		})
	}
}

func TestLifecycleDates(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	f.Clock.Advance(time.Hour)
	ok[*payloads.ActivateResponsePayload](t, do(t, f, kmip.V1_4, activate(id)))
	activated := f.Clock.Now()
	f.Clock.Advance(time.Hour)
	occurred := kmiptest.Epoch.Add(90 * time.Minute)
	ok[*payloads.RevokeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.RevokeRequestPayload{
		UniqueIdentifier:         id,
		RevocationReason:         kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise, RevocationMessage: "leaked"},
		CompromiseOccurrenceDate: &occurred,
	}))
	revoked := f.Clock.Now()
	f.Clock.Advance(time.Hour)
	ok[*payloads.DestroyResponsePayload](t, do(t, f, kmip.V1_4, destroy(id)))
	attrs := getAttrs(t, f, kmip.V1_4, id)
	for name, want := range map[kmip.AttributeName]any{
		kmip.AttributeNameActivationDate:           activated,
		kmip.AttributeNameCompromiseDate:           revoked,
		kmip.AttributeNameCompromiseOccurrenceDate: occurred,
		kmip.AttributeNameDestroyDate:              f.Clock.Now(),
		kmip.AttributeNameLastChangeDate:           f.Clock.Now(),
		kmip.AttributeNameInitialDate:              kmiptest.Epoch,
		kmip.AttributeNameState:                    kmip.StateDestroyedCompromised,
		kmip.AttributeNameRevocationReason:         kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise, RevocationMessage: "leaked"},
	} {
		if got, found := value(attrs, name); !found || !sameValue(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

func TestLifecycleRejects(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	tests := []struct {
		name string
		req  kmip.OperationPayload
		want kmip.ResultReason
	}{
		{"activate unknown", activate("missing"), kmip.ResultReasonItemNotFound},
		{"revoke unknown", revoke("missing", kmip.RevocationReasonCodeKeyCompromise), kmip.ResultReasonItemNotFound},
		{"destroy unknown", destroy("missing"), kmip.ResultReasonItemNotFound},
		{"revoke reason 0", revoke(id, 0), kmip.ResultReasonInvalidField},
		{"revoke reason out of range", revoke(id, 0x99), kmip.ResultReasonInvalidField},
		{"revoke message too long", &payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{
			RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise, RevocationMessage: string(make([]byte, 2000)),
		}}, kmip.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, do(t, f, kmip.V1_4, tt.req), tt.want)
		})
	}
	if s := state(t, f, kmip.V1_4, id); s != kmip.StatePreActive {
		t.Errorf("rejected requests changed the state to %v", s)
	}
}
