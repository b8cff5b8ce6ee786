package kmip_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func allocate(id string, n int64) *payloads.GetUsageAllocationRequestPayload {
	return &payloads.GetUsageAllocationRequestPayload{UniqueIdentifier: id, UsageLimitsCount: n}
}

func limits(total int64) kmip.Attribute {
	return attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: total, UsageLimitsUnit: kmip.UsageLimitsUnitByte})
}

func usageCount(t *testing.T, f *kmiptest.Fixture, id string) int64 {
	t.Helper()
	v, _ := value(getAttrs(t, f, kmip.V1_0, id, kmip.AttributeNameUsageLimits), kmip.AttributeNameUsageLimits)
	ul, isUL := v.(kmip.UsageLimits)
	if !isUL || ul.UsageLimitsCount == nil {
		t.Fatalf("Usage Limits = %#v", v)
	}
	return *ul.UsageLimitsCount
}

// TestGetUsageAllocation follows OASIS TC-51 in every version: 1000 bytes,
// two allocations of 500 from two clients' requests, a third refused.
func TestGetUsageAllocation(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			id := create(t, f, v, limits(1000),
				attr(kmip.AttributeNameActivationDate, kmiptest.Epoch),
				attr(kmip.AttributeNameProtectStopDate, hourLater()))
			for range 2 {
				applied := f.Replicator.Applied()
				if got := ok[*payloads.GetUsageAllocationResponsePayload](t, do(t, f, v, allocate(id, 500))).UniqueIdentifier; got != id {
					t.Fatalf("answered %q", got)
				}
				if f.Replicator.Applied() != applied+1 {
					t.Error("the allocation did not go through the log")
				}
			}
			if c := usageCount(t, f, id); c != 0 {
				t.Errorf("count %d, want 0", c)
			}
			fails(t, do(t, f, v, allocate(id, 1)), kmip.ResultReasonPermissionDenied)
		})
	}
}

func TestGetUsageAllocationRejects(t *testing.T) {
	active := attr(kmip.AttributeNameActivationDate, kmiptest.Epoch)
	tests := []struct {
		name  string
		setup func(t *testing.T, f *kmiptest.Fixture) string
		n     int64
		as    string
		want  kmip.ResultReason
	}{
		{name: "zero", n: 0, want: kmip.ResultReasonInvalidField},
		{name: "negative", n: -1, want: kmip.ResultReasonInvalidField},
		{name: "more than the total", n: 101, want: kmip.ResultReasonPermissionDenied},
		{name: "other tenant", n: 1, as: bob, want: kmip.ResultReasonItemNotFound},
		{name: "no usage limits", n: 1, setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return create(t, f, kmip.V1_4, active)
		}, want: kmip.ResultReasonIllegalOperation},
		{name: "pre-active", n: 1, setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return create(t, f, kmip.V1_4, limits(100))
		}, want: kmip.ResultReasonPermissionDenied},
		{name: "after protect stop", n: 1, setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return create(t, f, kmip.V1_4, limits(100), active, attr(kmip.AttributeNameProtectStopDate, kmiptest.Epoch))
		}, want: kmip.ResultReasonPermissionDenied},
		{name: "not a key", n: 1, setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return register(t, f, kmip.V1_4, secretData(seq(32)))
		}, want: kmip.ResultReasonIllegalOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			var id string
			if tt.setup != nil {
				id = tt.setup(t, f)
			} else {
				id = create(t, f, kmip.V1_4, limits(100), active)
			}
			as := alice
			if tt.as != "" {
				as = tt.as
			}
			fails(t, exec(t, f, as, kmip.V1_4, allocate(id, tt.n))[0], tt.want)
		})
	}
}

// fresh returns the object's Fresh attribute once every serving so far is
// recorded.
func fresh(t *testing.T, f *kmiptest.Fixture, id string) any {
	t.Helper()
	if err := f.Service.WaitServed(context.Background()); err != nil {
		t.Fatal(err)
	}
	v, _ := value(getAttrs(t, f, kmip.V1_4, id, kmip.AttributeNameFresh), kmip.AttributeNameFresh)
	return v
}

func locateMember(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, m kmip.ObjectGroupMember, group string) []string {
	t.Helper()
	req := &payloads.LocateRequestPayload{MaximumItems: 1, ObjectGroupMember: m, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, group)}}
	return ok[*payloads.LocateResponsePayload](t, do(t, f, v, req)).UniqueIdentifier
}

// TestLocateFreshMembers follows OASIS TC-152: fresh members of a group are
// handed out oldest first, and a served one is fresh no more.
func TestLocateFreshMembers(t *testing.T) {
	f := kmiptest.New(t)
	group := attr(kmip.AttributeNameObjectGroup, "g")
	k1 := create(t, f, kmip.V1_2, group)
	k2 := create(t, f, kmip.V1_2, group)
	create(t, f, kmip.V1_2, attr(kmip.AttributeNameObjectGroup, "other"))
	for i, want := range [][]string{{k1}, {k2}, nil} {
		got := locateMember(t, f, kmip.V1_2, kmip.ObjectGroupMemberFresh, "g")
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: Locate fresh found %v, want %v", i, got, want)
		}
		if len(got) == 1 {
			if err := f.Service.MarkServed(context.Background(), alice, got[0]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fresh(t, f, k1) != false || fresh(t, f, k2) != false {
		t.Error("served keys are still fresh")
	}
	// A group member that is not fresh is still its default member.
	if got := locateMember(t, f, kmip.V1_2, kmip.ObjectGroupMemberDefault, "g"); !slices.Equal(got, []string{k1}) {
		t.Errorf("default member %v, want the oldest %s", got, k1)
	}
	// KMIP 1.0 has no Object Group Member: a plain search, which finds the
	// keys that are no longer fresh.
	if got := locateMember(t, f, kmip.V1_0, kmip.ObjectGroupMemberFresh, "g"); !slices.Equal(got, []string{k1}) {
		t.Errorf("1.0 Locate found %v", got)
	}
}

func TestMarkServed(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	if fresh(t, f, id) != true {
		t.Fatal("a new key is not fresh")
	}
	f.Clock.Advance(time.Minute)
	applied := f.Replicator.Applied()
	for range 2 {
		if err := f.Service.MarkServed(context.Background(), alice, id); err != nil {
			t.Fatal(err)
		}
	}
	if fresh(t, f, id) != false {
		t.Error("still fresh")
	}
	if f.Replicator.Applied() != applied+1 {
		t.Errorf("%d log entries, want one: only the first serving writes", f.Replicator.Applied()-applied)
	}
}

// TestLocateFreshDefaultGroup follows OASIS TC-151: the default group hands
// out a new key when it has no fresh one.
func TestLocateFreshDefaultGroup(t *testing.T) {
	f := kmiptest.New(t)
	items := exec(t, f, alice, kmip.V1_2,
		&payloads.LocateRequestPayload{MaximumItems: 1, ObjectGroupMember: kmip.ObjectGroupMemberFresh, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "default")}},
		&payloads.GetAttributesRequestPayload{AttributeName: []kmip.AttributeName{kmip.AttributeNameFresh, kmip.AttributeNameObjectGroup, kmip.AttributeNameCryptographicLength}},
	)
	ids := ok[*payloads.LocateResponsePayload](t, items[0]).UniqueIdentifier
	if len(ids) != 1 {
		t.Fatalf("found %v, want one new key", ids)
	}
	attrs := ok[*payloads.GetAttributesResponsePayload](t, items[1])
	if attrs.UniqueIdentifier != ids[0] {
		t.Errorf("placeholder %q, want %q", attrs.UniqueIdentifier, ids[0])
	}
	for name, want := range map[kmip.AttributeName]any{kmip.AttributeNameFresh: true, kmip.AttributeNameObjectGroup: "default", kmip.AttributeNameCryptographicLength: int32(256)} {
		if got, _ := value(attrs.Attribute, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Still fresh: found again, nothing made.
	applied := f.Replicator.Applied()
	if got := locateMember(t, f, kmip.V1_2, kmip.ObjectGroupMemberFresh, "default"); !slices.Equal(got, ids) {
		t.Errorf("second Locate found %v", got)
	}
	// Other groups, or other criteria, never make keys.
	for _, req := range []*payloads.LocateRequestPayload{
		{ObjectGroupMember: kmip.ObjectGroupMemberFresh, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "g")}},
		{ObjectGroupMember: kmip.ObjectGroupMemberDefault, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "empty")}},
		{ObjectGroupMember: kmip.ObjectGroupMemberFresh, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "default"), attr(kmip.AttributeNameCryptographicLength, int32(128))}},
		{ObjectGroupMember: kmip.ObjectGroupMemberFresh, StorageStatusMask: kmip.StorageStatusArchivalStorage, Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "default")}},
	} {
		if got := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_2, req)).UniqueIdentifier; len(got) != 0 {
			t.Errorf("Locate %+v found %v", req, got)
		}
	}
	if f.Replicator.Applied() != applied {
		t.Error("a Locate that must not make keys wrote to the log")
	}
}
