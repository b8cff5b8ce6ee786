package fsm

import (
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// objectWith builds an object directly, bypassing Apply.
func objectWith(s kmip.State, attrs ...kmip.Attribute) *Object {
	o := &Object{ID: "o", Owner: alice}
	o.Attrs = append(o.Attrs, attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey))
	o.Attrs = append(o.Attrs, attrs...)
	o.SetAttr(kmip.AttributeNameState, s)
	return o
}

func TestEffectiveState(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	act := func(d time.Time) kmip.Attribute { return attr(kmip.AttributeNameActivationDate, d) }
	deact := func(d time.Time) kmip.Attribute { return attr(kmip.AttributeNameDeactivationDate, d) }
	tests := []struct {
		name   string
		stored kmip.State
		attrs  []kmip.Attribute
		want   kmip.State
	}{
		{"pre-active without dates", kmip.StatePreActive, nil, kmip.StatePreActive},
		{"activation date in the past", kmip.StatePreActive, []kmip.Attribute{act(past)}, kmip.StateActive},
		{"activation date is now", kmip.StatePreActive, []kmip.Attribute{act(now)}, kmip.StateActive},
		{"activation date in the future", kmip.StatePreActive, []kmip.Attribute{act(future)}, kmip.StatePreActive},
		{"activation date in another zone", kmip.StatePreActive, []kmip.Attribute{act(past.In(time.FixedZone("X", 5*3600)))}, kmip.StateActive},
		{"active without dates", kmip.StateActive, nil, kmip.StateActive},
		{"deactivation date reached", kmip.StateActive, []kmip.Attribute{act(past), deact(past)}, kmip.StateDeactivated},
		{"deactivation date is now", kmip.StateActive, []kmip.Attribute{deact(now)}, kmip.StateDeactivated},
		{"deactivation date in the future", kmip.StateActive, []kmip.Attribute{deact(future)}, kmip.StateActive},
		{"both dates passed", kmip.StatePreActive, []kmip.Attribute{act(past.Add(-time.Hour)), deact(past)}, kmip.StateDeactivated},
		{"activation passed deactivation future", kmip.StatePreActive, []kmip.Attribute{act(past), deact(future)}, kmip.StateActive},
		{"pre-active deactivation reached", kmip.StatePreActive, []kmip.Attribute{deact(past)}, kmip.StateDeactivated},
		{"deactivated stays", kmip.StateDeactivated, []kmip.Attribute{act(past), deact(future)}, kmip.StateDeactivated},
		{"compromised stays", kmip.StateCompromised, []kmip.Attribute{act(past), deact(past)}, kmip.StateCompromised},
		{"destroyed stays", kmip.StateDestroyed, []kmip.Attribute{act(past), deact(past)}, kmip.StateDestroyed},
		{"destroyed compromised stays", kmip.StateDestroyedCompromised, []kmip.Attribute{act(past)}, kmip.StateDestroyedCompromised},
		{"date of the wrong type ignored", kmip.StatePreActive, []kmip.Attribute{attr(kmip.AttributeNameActivationDate, "yesterday")}, kmip.StatePreActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := objectWith(tt.stored, tt.attrs...)
			before := o.Clone()
			if got := EffectiveState(o, now); got != tt.want {
				t.Errorf("EffectiveState = %s, want %s", ttlv.EnumStr(got), ttlv.EnumStr(tt.want))
			}
			if !sameObject(o, before) || o.StoredState() != tt.stored {
				t.Error("EffectiveState modified the object")
			}
		})
	}
}

// A date-driven transition is visible through Locate at query time and is
// the starting point of the next command, but is never written by reading a
// clock.
func TestEffectiveStateThroughApply(t *testing.T) {
	f := newTestFSM(t)
	activation := t0.Add(time.Hour)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
		attr(kmip.AttributeNameActivationDate, activation)))))
	active := []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateActive)}

	ids, _, err := f.Locate(Query{Owner: alice, Now: activation.Add(-time.Second), Filters: active})
	if err != nil || len(ids) != 0 {
		t.Errorf("before activation: %v, %v", ids, err)
	}
	ids, _, err = f.Locate(Query{Owner: alice, Now: activation, Filters: active})
	if err != nil || len(ids) != 1 {
		t.Errorf("at activation: %v, %v", ids, err)
	}
	if got := f.get("k").StoredState(); got != kmip.StatePreActive {
		t.Errorf("stored state %s changed by a read", ttlv.EnumStr(got))
	}

	// Revoke after the activation date: the object is settled to Active
	// first, so a non-compromise reason deactivates it.
	f.mustApply(revokeEntry(t, alice, activation.Add(time.Minute), supersede("k")))
	o := f.get("k")
	wantAttr(t, o, kmip.AttributeNameState, kmip.StateDeactivated)
	wantAttr(t, o, kmip.AttributeNameActivationDate, sec(activation))
	wantAttr(t, o, kmip.AttributeNameDeactivationDate, sec(activation.Add(time.Minute)))
}
