package kmip_test

import (
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// TestObtainLease covers KMIP 1.4 §4.17 and OASIS TC-95: a lease of the
// object's Lease Time for usable objects, none for the others.
func TestObtainLease(t *testing.T) {
	past := attr(kmip.AttributeNameActivationDate, kmiptest.Epoch)
	tests := []struct {
		name  string
		attrs []kmip.Attribute
		ops   []func(id string) kmip.OperationPayload
		want  kmip.ResultReason // 0: a lease
	}{
		{name: "active", attrs: []kmip.Attribute{past}},
		{name: "deactivated", attrs: []kmip.Attribute{past}, ops: []func(string) kmip.OperationPayload{
			func(id string) kmip.OperationPayload { return revoke(id, kmip.RevocationReasonCodeSuperseded) },
		}},
		{name: "pre-active", want: kmip.ResultReasonPermissionDenied},
		{name: "activation date ahead", attrs: []kmip.Attribute{attr(kmip.AttributeNameActivationDate, hourLater())}, want: kmip.ResultReasonPermissionDenied},
		{name: "compromised", attrs: []kmip.Attribute{past}, ops: []func(string) kmip.OperationPayload{
			func(id string) kmip.OperationPayload { return revoke(id, kmip.RevocationReasonCodeKeyCompromise) },
		}, want: kmip.ResultReasonPermissionDenied},
		{name: "destroyed", ops: []func(string) kmip.OperationPayload{destroy}, want: kmip.ResultReasonPermissionDenied},
	}
	for _, v := range allVersions {
		for _, tt := range tests {
			t.Run(vname(v)+"/"+tt.name, func(t *testing.T) {
				f := kmiptest.New(t)
				id := create(t, f, v, tt.attrs...)
				for _, op := range tt.ops {
					f.Clock.Advance(time.Minute)
					if bi := do(t, f, v, op(id)); bi.ResultStatus != kmip.ResultStatusSuccess {
						t.Fatalf("setup: %v", bi.Err())
					}
				}
				changed, _ := value(getAttrs(t, f, v, id, kmip.AttributeNameLastChangeDate), kmip.AttributeNameLastChangeDate)
				f.Clock.Advance(time.Minute)
				applied := f.Replicator.Applied()
				bi := do(t, f, v, &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: id})
				if f.Replicator.Applied() != applied {
					t.Error("Obtain Lease wrote to the log")
				}
				if tt.want != 0 {
					fails(t, bi, tt.want)
					return
				}
				resp := ok[*payloads.ObtainLeaseResponsePayload](t, bi)
				if resp.UniqueIdentifier != id || resp.LeaseTime != time.Hour || !isTime(changed, resp.LastChangeDate) {
					t.Errorf("lease %+v, want 1h and Last Change Date %v", resp, changed)
				}
			})
		}
	}
}

// TestObtainLeaseAfterRekey is OASIS TC-95: the compromised key gets no
// lease, its replacement, with the copied activation date, does.
func TestObtainLeaseAfterRekey(t *testing.T) {
	f := kmiptest.New(t)
	old := create(t, f, kmip.V1_2, name("k"), attr(kmip.AttributeNameActivationDate, kmiptest.Epoch))
	ok[*payloads.ObtainLeaseResponsePayload](t, do(t, f, kmip.V1_2, &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: old}))
	ok[*payloads.RevokeResponsePayload](t, do(t, f, kmip.V1_2, revoke(old, kmip.RevocationReasonCodeKeyCompromise)))
	items := exec(t, f, alice, kmip.V1_2, rekey(old, nil), &payloads.ObtainLeaseRequestPayload{})
	repl := ok[*payloads.RekeyResponsePayload](t, items[0]).UniqueIdentifier
	if got := ok[*payloads.ObtainLeaseResponsePayload](t, items[1]).UniqueIdentifier; got != repl {
		t.Errorf("lease for %q, want the replacement %q", got, repl)
	}
	fails(t, do(t, f, kmip.V1_2, &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: old}), kmip.ResultReasonPermissionDenied)
	fails(t, exec(t, f, bob, kmip.V1_2, &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: repl})[0], kmip.ResultReasonItemNotFound)
}
