package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Command times of the life-cycle tests: setup steps happen at t0..t0+3m,
// the operation under test at tOp.
var tOp = t0.Add(time.Hour)

func compromise(id string) *kmsdpb.Revoke {
	return &kmsdpb.Revoke{Id: id, ReasonCode: uint32(kmip.RevocationReasonCodeKeyCompromise), Message: "leaked"}
}

func supersede(id string) *kmsdpb.Revoke {
	return &kmsdpb.Revoke{Id: id, ReasonCode: uint32(kmip.RevocationReasonCodeSuperseded), Message: "rotated"}
}

// inState creates alice's object "k" and drives it into state s with commands.
func inState(t *testing.T, s kmip.State) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))
	switch s {
	case kmip.StatePreActive:
	case kmip.StateActive:
		f.mustApply(activateEntry(t, alice, t0.Add(time.Minute), "k"))
	case kmip.StateDeactivated:
		f.mustApply(activateEntry(t, alice, t0.Add(time.Minute), "k"))
		f.mustApply(revokeEntry(t, alice, t0.Add(2*time.Minute), supersede("k")))
	case kmip.StateCompromised:
		f.mustApply(revokeEntry(t, alice, t0.Add(time.Minute), compromise("k")))
	case kmip.StateDestroyed:
		f.mustApply(destroyEntry(t, alice, t0.Add(time.Minute), "k"))
	case kmip.StateDestroyedCompromised:
		f.mustApply(revokeEntry(t, alice, t0.Add(time.Minute), compromise("k")))
		f.mustApply(destroyEntry(t, alice, t0.Add(2*time.Minute), "k"))
	default:
		t.Fatalf("no recipe for state %v", s)
	}
	if got := f.get("k").StoredState(); got != s {
		t.Fatalf("setup: state %v, want %v", got, s)
	}
	return f
}

// checkRejected applies data and checks it fails with want, leaving k as it was.
func checkRejected(t *testing.T, f *testFSM, data []byte, want error) {
	t.Helper()
	before, stored := f.get("k"), f.stored("k")
	res := f.apply(data)
	if !errors.Is(res.Err, want) {
		t.Fatalf("Err = %v, want %v", res.Err, want)
	}
	if after := f.get("k"); !sameObject(before, after) || f.stored("k") != stored {
		t.Errorf("object changed by a rejected command")
	}
}

func TestActivate(t *testing.T) {
	t.Run("pre-active to active", func(t *testing.T) {
		f := inState(t, kmip.StatePreActive)
		before := f.get("k")
		res := f.mustApply(activateEntry(t, alice, tOp, "k"))
		if len(res.IDs) != 1 || res.IDs[0] != "k" {
			t.Errorf("IDs = %v", res.IDs)
		}
		o := f.get("k")
		wantAttr(t, o, kmip.AttributeNameState, kmip.StateActive)
		wantAttr(t, o, kmip.AttributeNameActivationDate, sec(tOp))
		wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(tOp))
		wantAttr(t, o, kmip.AttributeNameInitialDate, sec(t0))
		if o.StoredState() != kmip.StateActive || o.Revision != before.Revision {
			t.Errorf("state index %v revision %d", o.StoredState(), o.Revision)
		}
		// The stored value is replaced, never modified in place.
		if before.StoredState() != kmip.StatePreActive {
			t.Errorf("the previously read object was mutated to %v", before.StoredState())
		}
	})
	t.Run("twice", func(t *testing.T) {
		f := inState(t, kmip.StateActive)
		checkRejected(t, f, activateEntry(t, alice, tOp, "k"), ErrWrongState)
	})
	t.Run("activation date already reached", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
			attr(kmip.AttributeNameActivationDate, t0.Add(time.Minute))))))
		checkRejected(t, f, activateEntry(t, alice, tOp, "k"), ErrWrongState)
	})
	t.Run("future activation date replaced", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
			attr(kmip.AttributeNameActivationDate, tOp.Add(24*time.Hour))))))
		f.mustApply(activateEntry(t, alice, tOp, "k"))
		o := f.get("k")
		wantAttr(t, o, kmip.AttributeNameActivationDate, sec(tOp))
		wantCount(t, o, kmip.AttributeNameActivationDate, 1)
	})
	for _, s := range []kmip.State{kmip.StateDeactivated, kmip.StateCompromised, kmip.StateDestroyed, kmip.StateDestroyedCompromised} {
		t.Run("from "+ttlv.EnumStr(s), func(t *testing.T) {
			checkRejected(t, inState(t, s), activateEntry(t, alice, tOp, "k"), ErrWrongState)
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		f := inState(t, kmip.StatePreActive)
		if res := f.apply(activateEntry(t, alice, tOp, "nope")); !errors.Is(res.Err, ErrNotFound) {
			t.Errorf("Err = %v, want ErrNotFound", res.Err)
		}
	})
}

func TestRevoke(t *testing.T) {
	occurred := t0.Add(-48*time.Hour + 123*time.Millisecond)
	tests := []struct {
		name      string
		from      kmip.State
		body      *kmsdpb.Revoke
		want      kmip.State // zero: rejected with ErrWrongState
		occurDate time.Time  // expected Compromise Occurrence Date
	}{
		{"superseded active", kmip.StateActive, supersede("k"), kmip.StateDeactivated, time.Time{}},
		{"superseded pre-active", kmip.StatePreActive, supersede("k"), 0, time.Time{}},
		{"superseded deactivated", kmip.StateDeactivated, supersede("k"), 0, time.Time{}},
		{"superseded compromised", kmip.StateCompromised, supersede("k"), 0, time.Time{}},
		{"superseded destroyed", kmip.StateDestroyed, supersede("k"), 0, time.Time{}},
		{"compromise pre-active", kmip.StatePreActive, compromise("k"), kmip.StateCompromised, tOp},
		{"compromise active", kmip.StateActive, compromise("k"), kmip.StateCompromised, tOp},
		{"compromise deactivated", kmip.StateDeactivated, compromise("k"), kmip.StateCompromised, tOp},
		{"compromise destroyed", kmip.StateDestroyed, compromise("k"), kmip.StateDestroyedCompromised, tOp},
		{"compromise compromised", kmip.StateCompromised, compromise("k"), 0, time.Time{}},
		{"compromise destroyed compromised", kmip.StateDestroyedCompromised, compromise("k"), 0, time.Time{}},
		{"CA compromise active", kmip.StateActive,
			&kmsdpb.Revoke{Id: "k", ReasonCode: uint32(kmip.RevocationReasonCodeCACompromise)}, kmip.StateCompromised, tOp},
		{"compromise with occurrence date", kmip.StateActive,
			&kmsdpb.Revoke{Id: "k", ReasonCode: uint32(kmip.RevocationReasonCodeKeyCompromise), CompromiseOccurrenceUnixNano: occurred.UnixNano()},
			kmip.StateCompromised, occurred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := inState(t, tt.from)
			if tt.want == 0 {
				checkRejected(t, f, revokeEntry(t, alice, tOp, tt.body), ErrWrongState)
				return
			}
			f.mustApply(revokeEntry(t, alice, tOp, tt.body))
			o := f.get("k")
			wantAttr(t, o, kmip.AttributeNameState, tt.want)
			if o.StoredState() != tt.want {
				t.Errorf("state index = %v", o.StoredState())
			}
			wantAttr(t, o, kmip.AttributeNameRevocationReason, kmip.RevocationReason{
				RevocationReasonCode: kmip.RevocationReasonCode(tt.body.GetReasonCode()),
				RevocationMessage:    tt.body.GetMessage(),
			})
			wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(tOp))
			if tt.occurDate.IsZero() {
				wantAttr(t, o, kmip.AttributeNameDeactivationDate, sec(tOp))
				wantNoAttr(t, o, kmip.AttributeNameCompromiseDate)
				wantNoAttr(t, o, kmip.AttributeNameCompromiseOccurrenceDate)
				return
			}
			wantAttr(t, o, kmip.AttributeNameCompromiseDate, sec(tOp))
			wantAttr(t, o, kmip.AttributeNameCompromiseOccurrenceDate, sec(tt.occurDate))
		})
	}
	t.Run("future deactivation date pulled forward", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
			attr(kmip.AttributeNameDeactivationDate, tOp.Add(time.Hour))))))
		f.mustApply(activateEntry(t, alice, t0.Add(time.Minute), "k"))
		f.mustApply(revokeEntry(t, alice, tOp, supersede("k")))
		wantAttr(t, f.get("k"), kmip.AttributeNameDeactivationDate, sec(tOp))
	})
	t.Run("deactivation date already reached", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
			attr(kmip.AttributeNameDeactivationDate, t0.Add(2*time.Minute))))))
		f.mustApply(activateEntry(t, alice, t0.Add(time.Minute), "k"))
		checkRejected(t, f, revokeEntry(t, alice, tOp, supersede("k")), ErrWrongState)
	})
}

func TestDestroy(t *testing.T) {
	tests := []struct {
		from kmip.State
		want kmip.State // zero: rejected with ErrWrongState
	}{
		{kmip.StatePreActive, kmip.StateDestroyed},
		{kmip.StateActive, 0},
		{kmip.StateDeactivated, kmip.StateDestroyed},
		{kmip.StateCompromised, kmip.StateDestroyedCompromised},
		{kmip.StateDestroyed, 0},
		{kmip.StateDestroyedCompromised, 0},
	}
	for _, tt := range tests {
		t.Run(ttlv.EnumStr(tt.from), func(t *testing.T) {
			f := inState(t, tt.from)
			if tt.want == 0 {
				checkRejected(t, f, destroyEntry(t, alice, tOp, "k"), ErrWrongState)
				return
			}
			f.mustApply(destroyEntry(t, alice, tOp, "k"))
			o := f.get("k")
			wantAttr(t, o, kmip.AttributeNameState, tt.want)
			wantAttr(t, o, kmip.AttributeNameDestroyDate, sec(tOp))
			wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(tOp))
			if o.Material != nil {
				t.Errorf("Material = %q after Destroy", o.Material)
			}
			if p := o.ToProto(); len(p.GetSealedMaterial()) != 0 {
				t.Errorf("snapshot form still carries material")
			}
			// Metadata is kept.
			wantAttr(t, o, kmip.AttributeNameName, kmip.Name{NameValue: "k", NameType: kmip.NameTypeUninterpretedTextString})
		})
	}
	t.Run("effectively active by date", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
			attr(kmip.AttributeNameActivationDate, t0.Add(time.Minute))))))
		checkRejected(t, f, destroyEntry(t, alice, tOp, "k"), ErrWrongState)
	})
}

func TestOtherActorsObjectIsNotFound(t *testing.T) {
	ops := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"activate", func(t *testing.T) []byte { return activateEntry(t, bob, tOp, "k") }},
		{"revoke", func(t *testing.T) []byte { return revokeEntry(t, bob, tOp, compromise("k")) }},
		{"destroy", func(t *testing.T) []byte { return destroyEntry(t, bob, tOp, "k") }},
		{"empty actor", func(t *testing.T) []byte { return activateEntry(t, "", tOp, "k") }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			f := inState(t, kmip.StatePreActive)
			before := f.digest()
			checkRejected(t, f, op.data(t), ErrNotFound)
			if f.digest() != before {
				t.Error("store changed")
			}
		})
	}
}
