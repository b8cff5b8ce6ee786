package fsm

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// A MarkNotFresh for several objects, sent after the answers that served
// them, skips those destroyed or gone since; its Id must still exist.
func TestMarkNotFreshMany(t *testing.T) {
	f := newTestFSM(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fresh := attr(kmip.AttributeNameFresh, true)
	f.mustApply(createEntry(t, alice, t0, storedObject("a", symKey("a", fresh)), storedObject("b", symKey("b", fresh)), storedObject("c", symKey("c", fresh))))
	f.mustApply(createEntry(t, bob, t0, storedObject("bobs", symKey("bobs", fresh))))

	res := f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, env(alice, t0),
		&kmsdpb.MarkNotFresh{Ids: []string{"a", "gone", "bobs", "c"}}))
	if !slices.Equal(res.IDs, []string{"a", "c"}) {
		t.Errorf("touched %v, want [a c]", res.IDs)
	}
	wantAttr(t, f.get("a"), kmip.AttributeNameFresh, false)
	wantAttr(t, f.get("b"), kmip.AttributeNameFresh, true)
	wantAttr(t, f.get("c"), kmip.AttributeNameFresh, false)
	wantAttr(t, f.get("bobs"), kmip.AttributeNameFresh, true)

	if res := f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, env(alice, t0), &kmsdpb.MarkNotFresh{Id: "gone"})); !errors.Is(res.Err, ErrNotFound) {
		t.Errorf("MarkNotFresh of a missing Id: %v, want ErrNotFound", res.Err)
	}
	if res := f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, env(alice, t0), &kmsdpb.MarkNotFresh{})); !errors.Is(res.Err, ErrMalformed) {
		t.Errorf("MarkNotFresh of nothing: %v, want ErrMalformed", res.Err)
	}
}
