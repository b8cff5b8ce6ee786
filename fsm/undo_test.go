package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The inverse of a command, applied as an UNDO, restores the store; it is
// refused, changing nothing, once an object changed after the command.
func TestUndo(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k0", symKey("zero"))))
	before := f.digest()

	e := env(alice, t0.Add(time.Minute))
	e.Undoable = true
	created := f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, e, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{storedObject("k1", symKey("one"))}}))
	e = env(alice, t0.Add(2*time.Minute))
	e.Undoable = true
	activated := f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, e, &kmsdpb.Activate{Id: "k0"}))
	if created.Undo == nil || activated.Undo == nil || len(created.Undo.Steps) != 1 || len(activated.Undo.Steps) != 1 {
		t.Fatalf("inverses: %v, %v", created.Undo, activated.Undo)
	}
	undo := func(actor string) *Result {
		steps := append(activated.Undo.GetSteps(), created.Undo.GetSteps()...)
		return f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_UNDO, env(actor, t0.Add(3*time.Minute)), &kmsdpb.Undo{Steps: steps}))
	}

	t.Run("other tenant", func(t *testing.T) {
		if res := undo(bob); !errors.Is(res.Err, ErrConflict) {
			t.Errorf("undo by another actor: %v, want ErrConflict", res.Err)
		}
	})
	t.Run("restores", func(t *testing.T) {
		if res := undo(alice); res.Err != nil {
			t.Fatal(res.Err)
		}
		if f.digest() != before {
			t.Error("the store differs from before the undone commands")
		}
	})
	t.Run("changed since", func(t *testing.T) {
		e := env(alice, t0.Add(4*time.Minute))
		e.Undoable = true
		act := f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, e, &kmsdpb.Activate{Id: "k0"}))
		f.mustApply(revokeEntry(t, alice, t0.Add(5*time.Minute), &kmsdpb.Revoke{Id: "k0", ReasonCode: 5}))
		changed := f.digest()
		res := f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_UNDO, env(alice, t0.Add(6*time.Minute)), act.Undo))
		if !errors.Is(res.Err, ErrConflict) {
			t.Errorf("undo after a later change: %v, want ErrConflict", res.Err)
		}
		if f.digest() != changed {
			t.Error("a refused undo changed the store")
		}
	})
}
