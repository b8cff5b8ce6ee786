package fsm

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func allocateEntry(t testing.TB, actor string, at time.Time, id string, amount int64) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ALLOCATE_USAGE, env(actor, at), &kmsdpb.AllocateUsage{Id: id, Amount: amount})
}

func notFreshEntry(t testing.TB, actor string, at time.Time, id string) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, env(actor, at), &kmsdpb.MarkNotFresh{Id: id})
}

func usageLimits(total int64, count *int64) kmip.Attribute {
	return attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: total, UsageLimitsCount: count, UsageLimitsUnit: kmip.UsageLimitsUnitByte})
}

func remaining(t *testing.T, o *Object) int64 {
	t.Helper()
	v, _ := o.Attr(kmip.AttributeNameUsageLimits)
	ul, ok := v.(kmip.UsageLimits)
	if !ok || ul.UsageLimitsCount == nil {
		t.Fatalf("%s: Usage Limits %#v", o.ID, v)
	}
	return *ul.UsageLimitsCount
}

// TestAllocateUsage walks TC-51: a total of 1000 bytes, two allocations of
// 500, and a third that finds nothing left.
func TestAllocateUsage(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
		usageLimits(1000, nil),
		attr(kmip.AttributeNameActivationDate, t0),
		attr(kmip.AttributeNameProtectStopDate, tOp.Add(time.Hour)),
	))))
	first := f.get("k")
	f.mustApply(allocateEntry(t, alice, tOp, "k", 500))
	if got := remaining(t, f.get("k")); got != 500 {
		t.Fatalf("count %d after first allocation, want 500", got)
	}
	if v, _ := first.Attr(kmip.AttributeNameUsageLimits); v.(kmip.UsageLimits).UsageLimitsCount != nil {
		t.Error("allocation wrote through a value shared with an earlier version")
	}
	second := f.get("k")
	f.mustApply(allocateEntry(t, alice, tOp, "k", 500))
	if got := remaining(t, f.get("k")); got != 0 {
		t.Fatalf("count %d after second allocation, want 0", got)
	}
	if remaining(t, second) != 500 {
		t.Error("allocation changed the previous version of the object")
	}
	wantAttr(t, f.get("k"), kmip.AttributeNameLastChangeDate, sec(tOp))
	checkRejected(t, f, allocateEntry(t, alice, tOp, "k", 1), ErrUsageExhausted)
}

func TestAllocateUsageRejects(t *testing.T) {
	count := int64(10)
	active := attr(kmip.AttributeNameActivationDate, t0)
	tests := []struct {
		name   string
		attrs  []kmip.Attribute
		actor  string
		amount int64
		want   error
	}{
		{"no usage limits", []kmip.Attribute{active}, alice, 1, ErrNotApplicable},
		{"pre-active", []kmip.Attribute{usageLimits(100, nil)}, alice, 1, ErrWrongState},
		{"activation in the future", []kmip.Attribute{usageLimits(100, nil), attr(kmip.AttributeNameActivationDate, tOp.Add(time.Hour))}, alice, 1, ErrWrongState},
		{"protect stop passed", []kmip.Attribute{usageLimits(100, nil), active, attr(kmip.AttributeNameProtectStopDate, tOp)}, alice, 1, ErrWrongState},
		{"deactivated", []kmip.Attribute{usageLimits(100, nil), active, attr(kmip.AttributeNameDeactivationDate, t0.Add(time.Minute))}, alice, 1, ErrWrongState},
		{"more than the count", []kmip.Attribute{usageLimits(100, &count), active}, alice, 11, ErrUsageExhausted},
		{"other tenant", []kmip.Attribute{usageLimits(100, nil), active}, bob, 1, ErrNotFound},
		{"zero amount", []kmip.Attribute{usageLimits(100, nil), active}, alice, 0, ErrMalformed},
		{"negative amount", []kmip.Attribute{usageLimits(100, nil), active}, alice, -5, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k", tt.attrs...))))
			checkRejected(t, f, allocateEntry(t, tt.actor, tOp, "k", tt.amount), tt.want)
		})
	}
	t.Run("archived", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k", usageLimits(100, nil), active))))
		f.mustApply(archiveEntry(t, alice, t0, "k"))
		checkRejected(t, f, allocateEntry(t, alice, tOp, "k", 1), ErrArchived)
	})
}

func TestMarkNotFresh(t *testing.T) {
	tests := []struct {
		name      string
		attrs     []kmip.Attribute
		wantFresh any // nil: no Fresh attribute
		changed   bool
	}{
		{"fresh", []kmip.Attribute{attr(kmip.AttributeNameFresh, true)}, false, true},
		{"already served", []kmip.Attribute{attr(kmip.AttributeNameFresh, false)}, false, false},
		{"no fresh attribute", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k", tt.attrs...))))
			before := f.digest()
			f.mustApply(notFreshEntry(t, alice, tOp, "k"))
			o := f.get("k")
			if tt.wantFresh == nil {
				wantNoAttr(t, o, kmip.AttributeNameFresh)
			} else {
				wantAttr(t, o, kmip.AttributeNameFresh, tt.wantFresh)
			}
			if changed := f.digest() != before; changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			if tt.changed {
				wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(tOp))
			}
		})
	}
	t.Run("other tenant", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k", attr(kmip.AttributeNameFresh, true)))))
		if res := f.apply(notFreshEntry(t, bob, tOp, "k")); !errors.Is(res.Err, ErrNotFound) {
			t.Errorf("Err = %v, want ErrNotFound", res.Err)
		}
	})
}

// TestLocateGroupMember: fresh members oldest first, and a group's default
// object is its oldest matching member.
func TestLocateGroupMember(t *testing.T) {
	f := newTestFSM(t)
	group := func(g string) kmip.Attribute { return attr(kmip.AttributeNameObjectGroup, g) }
	fresh := attr(kmip.AttributeNameFresh, true)
	f.mustApply(createEntry(t, alice, t0, storedObject("a", symKey("a", group("g"), fresh))))
	f.mustApply(createEntry(t, alice, t0, storedObject("b", symKey("b", group("g"), fresh))))
	f.mustApply(createEntry(t, alice, t0, storedObject("c", symKey("c", group("g"), fresh))))
	f.mustApply(createEntry(t, alice, t0, storedObject("other", symKey("other", group("h"), fresh))))
	f.mustApply(notFreshEntry(t, alice, t0, "a"))
	inG := []kmip.Attribute{group("g")}
	tests := []struct {
		name   string
		member kmip.ObjectGroupMember
		max    int
		want   []string
		total  int
	}{
		{"plain search is oldest first too", 0, 0, []string{"a", "b", "c"}, 3},
		{"fresh, oldest first", kmip.ObjectGroupMemberFresh, 0, []string{"b", "c"}, 2},
		{"one fresh", kmip.ObjectGroupMemberFresh, 1, []string{"b"}, 2},
		{"default", kmip.ObjectGroupMemberDefault, 0, []string{"a"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, total, err := f.Locate(Query{Owner: alice, Now: t0, Filters: inG, GroupMember: tt.member, MaxItems: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, tt.want) || total != tt.total {
				t.Errorf("Locate = %v (total %d), want %v (total %d)", ids, total, tt.want, tt.total)
			}
		})
	}
}
