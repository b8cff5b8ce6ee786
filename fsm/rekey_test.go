package fsm

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func rekeyEntry(t testing.TB, actor string, at time.Time, body *kmsdpb.Rekey) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_REKEY, env(actor, at), body)
}

// rekeyBody re-keys old into id with the attributes the proposer sets.
func rekeyBody(old, id string, set ...kmip.Attribute) *kmsdpb.Rekey {
	return &kmsdpb.Rekey{OldId: old, Replacement: storedObject(id, set)}
}

func encodeAll(attrs ...kmip.Attribute) [][]byte {
	var out [][]byte
	for _, a := range attrs {
		out = append(out, EncodeAttribute(a))
	}
	return out
}

// names lists the values of the object's Name instances, in order.
func names(o *Object) []string {
	var out []string
	for _, v := range o.AttrAll(kmip.AttributeNameName) {
		out = append(out, v.(kmip.Name).NameValue)
	}
	return out
}

func link(t kmip.LinkType, id string) kmip.Link {
	return kmip.Link{LinkType: t, LinkedObjectIdentifier: id}
}

func TestRekeyCopiesAndLinks(t *testing.T) {
	f := newTestFSM(t)
	count := int64(200)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k",
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt),
		attr(kmip.AttributeNameObjectGroup, "g"),
		attr("x-app", custom("mongo")),
		attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 1000, UsageLimitsCount: &count, UsageLimitsUnit: kmip.UsageLimitsUnitByte}),
		attr(kmip.AttributeNameLink, link(kmip.LinkTypeParentLink, "p")),
		attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: []byte("old")}),
		attr(kmip.AttributeNameFresh, false),
		attr(kmip.AttributeNameSensitive, true),
		attr(kmip.AttributeNameAlwaysSensitive, false),
		attr(kmip.AttributeNameExtractable, false),
		attr(kmip.AttributeNameNeverExtractable, false),
		attr(kmip.AttributeNameLeaseTime, time.Hour),
	))))
	f.mustApply(revokeEntry(t, alice, t0.Add(time.Minute), compromise("k")))
	newDigest := kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: []byte("new")}
	res := f.mustApply(rekeyEntry(t, alice, tOp, rekeyBody("k", "r",
		attr(kmip.AttributeNameDigest, newDigest),
		attr(kmip.AttributeNameFresh, true),
		attr(kmip.AttributeNameState, kmip.StateDestroyed), // protected: ignored
	)))
	if !slices.Equal(res.IDs, []string{"r", "k"}) {
		t.Fatalf("IDs = %v, want [r k]", res.IDs)
	}
	r, k := f.get("r"), f.get("k")

	t.Run("replacement identity", func(t *testing.T) {
		if r.Owner != alice || r.Revision != res.Index || !bytes.Equal(r.Material, []byte("sealed:r")) {
			t.Errorf("owner %q revision %d material %q", r.Owner, r.Revision, r.Material)
		}
		if r.Attrs[0].AttributeName != kmip.AttributeNameUniqueIdentifier {
			t.Errorf("first attribute is %q", r.Attrs[0].AttributeName)
		}
		wantAttr(t, r, kmip.AttributeNameUniqueIdentifier, "r")
		wantAttr(t, r, kmip.AttributeNameInitialDate, sec(tOp))
		wantAttr(t, r, kmip.AttributeNameLastChangeDate, sec(tOp))
		// Compromise belongs to the existing key; the replacement has no
		// dates, so it starts Pre-Active.
		wantAttr(t, r, kmip.AttributeNameState, kmip.StatePreActive)
		for _, n := range []kmip.AttributeName{kmip.AttributeNameCompromiseDate, kmip.AttributeNameCompromiseOccurrenceDate, kmip.AttributeNameRevocationReason} {
			wantNoAttr(t, r, n)
		}
	})
	t.Run("copied", func(t *testing.T) {
		for _, n := range []kmip.AttributeName{kmip.AttributeNameCryptographicAlgorithm, kmip.AttributeNameCryptographicLength, kmip.AttributeNameCryptographicUsageMask, kmip.AttributeNameObjectGroup, "x-app", kmip.AttributeNameSensitive, kmip.AttributeNameExtractable, kmip.AttributeNameLeaseTime} {
			v, _ := k.Attr(n)
			wantAttr(t, r, n, v)
		}
		if !slices.Equal(names(r), []string{"k"}) {
			t.Errorf("replacement names %v, want [k]", names(r))
		}
	})
	t.Run("set anew", func(t *testing.T) {
		wantCount(t, r, kmip.AttributeNameDigest, 1)
		wantAttr(t, r, kmip.AttributeNameDigest, newDigest)
		wantAttr(t, r, kmip.AttributeNameFresh, true)
		wantAttr(t, r, kmip.AttributeNameAlwaysSensitive, true)
		wantAttr(t, r, kmip.AttributeNameNeverExtractable, true)
		total := int64(1000)
		wantAttr(t, r, kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 1000, UsageLimitsCount: &total, UsageLimitsUnit: kmip.UsageLimitsUnitByte})
		if got := r.AttrAll(kmip.AttributeNameLink); len(got) != 1 || got[0] != link(kmip.LinkTypeReplacedObjectLink, "k") {
			t.Errorf("replacement links %v, want only Replaced Object → k", got)
		}
	})
	t.Run("existing key", func(t *testing.T) {
		wantCount(t, k, kmip.AttributeNameName, 0)
		if got := f.locateIDs(alice, name("k")); !slices.Equal(got, []string{"r"}) {
			t.Errorf("Locate by the moved name finds %v, want [r]", got)
		}
		links := k.AttrAll(kmip.AttributeNameLink)
		if !slices.Contains(links, any(link(kmip.LinkTypeReplacementObjectLink, "r"))) || !slices.Contains(links, any(link(kmip.LinkTypeParentLink, "p"))) {
			t.Errorf("existing key links %v", links)
		}
		wantAttr(t, k, kmip.AttributeNameState, kmip.StateCompromised)
		wantAttr(t, k, kmip.AttributeNameLastChangeDate, sec(tOp))
		wantAttr(t, k, kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 1000, UsageLimitsCount: &count, UsageLimitsUnit: kmip.UsageLimitsUnitByte})
		if !bytes.Equal(k.Material, []byte("sealed:k")) {
			t.Error("existing key lost its material")
		}
	})
	t.Run("locate by name finds the replacement", func(t *testing.T) {
		ids, _, err := f.Locate(Query{Owner: alice, Now: tOp, Filters: []kmip.Attribute{attr(kmip.AttributeNameName, kmip.Name{NameValue: "k"})}})
		if err != nil || !slices.Equal(ids, []string{"r"}) {
			t.Errorf("Locate = %v, %v", ids, err)
		}
	})
}

// TestRekeyDates covers KMIP 1.4 §4.4: dates copied without an Offset,
// computed from it otherwise, and the State that follows from them.
func TestRekeyDates(t *testing.T) {
	at1 := sec(t0.Add(time.Minute))
	dates := []kmip.Attribute{
		attr(kmip.AttributeNameActivationDate, at1),
		attr(kmip.AttributeNameProcessStartDate, at1.Add(time.Minute)),
		attr(kmip.AttributeNameProtectStopDate, at1.Add(2*time.Hour)),
		attr(kmip.AttributeNameDeactivationDate, at1.Add(3*time.Hour)),
	}
	now := sec(tOp)
	tests := []struct {
		name      string
		old       []kmip.Attribute
		offset    *time.Duration
		set       []kmip.Attribute
		wantDates map[kmip.AttributeName]time.Time // zero: absent
		wantState kmip.State
	}{
		{name: "no dates", wantState: kmip.StatePreActive, wantDates: map[kmip.AttributeName]time.Time{kmip.AttributeNameActivationDate: {}}},
		{name: "copied without offset", old: dates, wantState: kmip.StateActive, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameActivationDate: at1, kmip.AttributeNameProcessStartDate: at1.Add(time.Minute),
			kmip.AttributeNameProtectStopDate: at1.Add(2 * time.Hour), kmip.AttributeNameDeactivationDate: at1.Add(3 * time.Hour),
		}},
		{name: "offset zero shifts to now", old: dates, offset: new(time.Duration), wantState: kmip.StateActive, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameActivationDate: now, kmip.AttributeNameProcessStartDate: now.Add(time.Minute),
			kmip.AttributeNameProtectStopDate: now.Add(2 * time.Hour), kmip.AttributeNameDeactivationDate: now.Add(3 * time.Hour),
		}},
		{name: "offset in the future", old: dates, offset: ptr(time.Hour), wantState: kmip.StatePreActive, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameActivationDate: now.Add(time.Hour), kmip.AttributeNameDeactivationDate: now.Add(4 * time.Hour),
		}},
		{name: "offset without dates sets activation", offset: ptr(time.Minute), wantState: kmip.StatePreActive, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameActivationDate: now.Add(time.Minute), kmip.AttributeNameDeactivationDate: {},
		}},
		{name: "expired key copied stays deactivated", old: []kmip.Attribute{attr(kmip.AttributeNameDeactivationDate, at1)}, wantState: kmip.StateDeactivated, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameDeactivationDate: at1,
		}},
		{name: "set dates win over copies", old: dates, set: []kmip.Attribute{attr(kmip.AttributeNameActivationDate, now.Add(time.Hour))}, wantState: kmip.StatePreActive, wantDates: map[kmip.AttributeName]time.Time{
			kmip.AttributeNameActivationDate: now.Add(time.Hour), kmip.AttributeNameDeactivationDate: at1.Add(3 * time.Hour),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k", tt.old...))))
			body := rekeyBody("k", "r", tt.set...)
			if tt.offset != nil {
				body.HasOffset, body.OffsetSeconds = true, int64(*tt.offset/time.Second)
			}
			f.mustApply(rekeyEntry(t, alice, tOp, body))
			r := f.get("r")
			for name, want := range tt.wantDates {
				if want.IsZero() {
					wantNoAttr(t, r, name)
				} else {
					wantAttr(t, r, name, want)
				}
			}
			wantAttr(t, r, kmip.AttributeNameState, tt.wantState)
			if got := EffectiveState(r, tOp); got != tt.wantState {
				t.Errorf("effective state %v, want %v", got, tt.wantState)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRekeyAddedAttributes(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("first"))))
	body := rekeyBody("k", "r", attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageDecrypt))
	body.AddedAttributes = encodeAll(
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "second"}),
		attr(kmip.AttributeNameObjectGroup, "g2"),
		attr(kmip.AttributeNameLink, link(kmip.LinkTypeParentLink, "p")),
		attr(kmip.AttributeNameInitialDate, t0), // protected: ignored
	)
	f.mustApply(rekeyEntry(t, alice, tOp, body))
	r := f.get("r")
	if !slices.Equal(names(r), []string{"first", "second"}) {
		t.Errorf("names %v, want the moved one first", names(r))
	}
	wantAttr(t, r, kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageDecrypt)
	wantAttr(t, r, kmip.AttributeNameObjectGroup, "g2")
	wantAttr(t, r, kmip.AttributeNameInitialDate, sec(tOp))
	wantCount(t, r, kmip.AttributeNameLink, 2)

	// A second re-key carries every name forward again.
	body = rekeyBody("r", "r2")
	body.AddedAttributes = encodeAll(attr(kmip.AttributeNameName, kmip.Name{NameValue: "third"}))
	f.mustApply(rekeyEntry(t, alice, tOp.Add(time.Minute), body))
	if got := names(f.get("r2")); !slices.Equal(got, []string{"first", "second", "third"}) {
		t.Errorf("names after second re-key %v", got)
	}
	if got := names(f.get("r")); len(got) != 0 {
		t.Errorf("first replacement kept names %v", got)
	}
}

func TestRekeyRejects(t *testing.T) {
	good := func() *kmsdpb.Rekey { return rekeyBody("k", "r") }
	tests := []struct {
		name  string
		setup func(t *testing.T, f *testFSM)
		actor string
		body  func() *kmsdpb.Rekey
		want  error
	}{
		{name: "missing", body: func() *kmsdpb.Rekey { return rekeyBody("nope", "r") }, want: ErrNotFound},
		{name: "other tenant", actor: bob, body: good, want: ErrNotFound},
		{name: "not a symmetric key", setup: func(t *testing.T, f *testFSM) {
			f.mustApply(createEntry(t, alice, t0, storedObject("s", []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData)})))
		}, body: func() *kmsdpb.Rekey { return rekeyBody("s", "r") }, want: ErrNotApplicable},
		{name: "destroyed", setup: func(t *testing.T, f *testFSM) {
			f.mustApply(destroyEntry(t, alice, t0.Add(time.Minute), "k"))
		}, body: good, want: ErrWrongState},
		{name: "archived", setup: func(t *testing.T, f *testFSM) {
			f.mustApply(archiveEntry(t, alice, t0.Add(time.Minute), "k"))
		}, body: good, want: ErrArchived},
		{name: "replacement id taken", setup: func(t *testing.T, f *testFSM) {
			f.mustApply(createEntry(t, bob, t0, storedObject("r", symKey("r"))))
		}, body: good, want: ErrExists},
		{name: "offset without activation date", setup: func(t *testing.T, f *testFSM) {
			f.mustApply(createEntry(t, alice, t0, storedObject("d", symKey("d", attr(kmip.AttributeNameDeactivationDate, t0.Add(time.Hour))))))
		}, body: func() *kmsdpb.Rekey {
			b := rekeyBody("d", "r")
			b.HasOffset = true
			return b
		}, want: ErrNotApplicable},
		{name: "two activation dates", body: func() *kmsdpb.Rekey {
			b := good()
			b.AddedAttributes = encodeAll(attr(kmip.AttributeNameActivationDate, t0))
			b.Replacement = storedObject("r", []kmip.Attribute{attr(kmip.AttributeNameActivationDate, t0)})
			return b
		}, want: ErrMalformed},
		{name: "no old id", body: func() *kmsdpb.Rekey { return rekeyBody("", "r") }, want: ErrMalformed},
		{name: "no replacement", body: func() *kmsdpb.Rekey { return &kmsdpb.Rekey{OldId: "k"} }, want: ErrMalformed},
		{name: "no material", body: func() *kmsdpb.Rekey {
			b := good()
			b.Replacement.SealedMaterial = nil
			return b
		}, want: ErrMalformed},
		{name: "same id", body: func() *kmsdpb.Rekey { return rekeyBody("k", "k") }, want: ErrMalformed},
		{name: "negative offset", body: func() *kmsdpb.Rekey {
			b := good()
			b.HasOffset, b.OffsetSeconds = true, -1
			return b
		}, want: ErrMalformed},
		{name: "undecodable attribute", body: func() *kmsdpb.Rekey {
			b := good()
			b.AddedAttributes = [][]byte{{1, 2, 3}}
			return b
		}, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))
			if tt.setup != nil {
				tt.setup(t, f)
			}
			actor := tt.actor
			if actor == "" {
				actor = alice
			}
			before, count := f.digest(), f.Count()
			res := f.apply(rekeyEntry(t, actor, tOp, tt.body()))
			if !errors.Is(res.Err, tt.want) {
				t.Fatalf("Err = %v, want %v", res.Err, tt.want)
			}
			if f.digest() != before || f.Count() != count {
				t.Error("a rejected re-key changed the store")
			}
		})
	}
}

// TestRekeyReplicasAgree applies the same log to two state machines, one of
// them restored from a snapshot taken midway, and compares them.
func TestRekeyReplicasAgree(t *testing.T) {
	log := [][]byte{
		createEntry(t, alice, t0, storedObject("k", symKey("k", attr(kmip.AttributeNameActivationDate, t0)))),
		rekeyEntry(t, alice, t0.Add(time.Minute), rekeyBody("k", "r1")),
		rekeyEntry(t, alice, t0.Add(2*time.Minute), &kmsdpb.Rekey{OldId: "r1", Replacement: storedObject("r2", nil), HasOffset: true, OffsetSeconds: 60}),
	}
	a, b := newTestFSM(t), newTestFSM(t)
	for i, e := range log {
		a.mustApply(e)
		if i == 1 {
			b.next = a.next
			if err := b.Restore(bytes.NewReader(a.snapshotBytes())); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if i > 1 {
			b.mustApply(e)
		}
	}
	if a.digest() != b.digest() {
		t.Fatal("replicas differ after re-key")
	}
	wantAttr(t, a.get("r2"), kmip.AttributeNameActivationDate, sec(t0.Add(3*time.Minute)))
}
