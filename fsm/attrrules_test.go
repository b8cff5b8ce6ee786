package fsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// TestAttrRulesConsistent walks the table for rules that contradict each
// other.
func TestAttrRulesConsistent(t *testing.T) {
	rules := AttrRules()
	if len(rules) < 50 {
		t.Fatalf("only %d rules", len(rules))
	}
	for _, r := range rules {
		t.Run(string(r.Name), func(t *testing.T) {
			client := r.Create || r.Add || r.Modify || r.Delete
			switch {
			case (r.Store || r.Fixed) && client:
				t.Error("the store owns it, yet a client may set or change it")
			case r.Store && r.Fixed:
				t.Error("both Store and Fixed")
			case len(r.States) > 0 && !r.Modify:
				t.Error("state-bound, yet a client may not modify it")
			case r.Indexed && r.Multi:
				t.Error("indexed as single, yet multi-instance")
			case r.Name.IsCustom():
				t.Error("a custom attribute in the standard table")
			}
			if got, ok := LookupAttrRule(r.Name); !ok || got.Name != r.Name {
				t.Errorf("LookupAttrRule = %+v, %v", got, ok)
			}
		})
	}
	if _, ok := LookupAttrRule("x-custom"); ok {
		t.Error("LookupAttrRule found a custom attribute")
	}
	rules[0].Name = "changed"
	if AttrRules()[0].Name == "changed" {
		t.Error("AttrRules hands out the table itself")
	}
}

// TestAttrRulesApplied walks the table through Apply: on a Pre-Active and
// an Active object, a command that changes an attribute is refused exactly
// when the rule says the store owns it or the state does not allow it.
// Delete Attribute of an instance that does not exist changes nothing
// either way, so the same object serves every attribute.
func TestAttrRulesApplied(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("pre", symKey("pre")), storedObject("act", symKey("act"))))
	f.mustApply(activateEntry(t, alice, t0, "act"))
	for _, c := range []struct {
		id    string
		state kmip.State
	}{{"pre", kmip.StatePreActive}, {"act", kmip.StateActive}} {
		for _, r := range AttrRules() {
			t.Run(c.id+"/"+string(r.Name), func(t *testing.T) {
				res := f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_DELETE_ATTRIBUTE, env(alice, t0),
					&kmsdpb.DeleteAttribute{Id: c.id, Name: string(r.Name), Index: 99}))
				refused := r.Store || r.Fixed || (len(r.States) > 0 && !slices.Contains(r.States, c.state))
				if got := errors.Is(res.Err, ErrNotModifiable); got != refused {
					t.Fatalf("refused %v (%v), want %v", got, res.Err, refused)
				}
				if !refused && !errors.Is(res.Err, ErrNoAttribute) && !errors.Is(res.Err, ErrIndexRange) {
					t.Fatalf("error %v, want no such instance", res.Err)
				}
			})
		}
	}
}
