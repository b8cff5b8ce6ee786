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

func TestCreateSingleObject(t *testing.T) {
	f := newTestFSM(t)
	attrs := symKey("alpha",
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
		attr(kmip.AttributeNameObjectGroup, "g1"),
		attr("x-team", custom("red")),
	)
	res := f.mustApply(createEntry(t, alice, t0, storedObject("k1", attrs)))
	if !slices.Equal(res.IDs, []string{"k1"}) {
		t.Fatalf("IDs = %v, want [k1]", res.IDs)
	}
	o := f.get("k1")

	t.Run("identity", func(t *testing.T) {
		if o.Owner != alice {
			t.Errorf("Owner = %q, want %q", o.Owner, alice)
		}
		if o.Revision != res.Index {
			t.Errorf("Revision = %d, want log index %d", o.Revision, res.Index)
		}
		if !bytes.Equal(o.Material, []byte("sealed:k1")) {
			t.Errorf("Material = %q", o.Material)
		}
		if f.AppliedIndex() != res.Index {
			t.Errorf("AppliedIndex = %d, want %d", f.AppliedIndex(), res.Index)
		}
	})
	t.Run("server managed", func(t *testing.T) {
		if len(o.Attrs) == 0 || o.Attrs[0].AttributeName != kmip.AttributeNameUniqueIdentifier {
			t.Errorf("first attribute is not Unique Identifier: %+v", o.Attrs)
		}
		wantAttr(t, o, kmip.AttributeNameUniqueIdentifier, "k1")
		wantAttr(t, o, kmip.AttributeNameState, kmip.StatePreActive)
		wantAttr(t, o, kmip.AttributeNameInitialDate, sec(t0))
		wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(t0))
		if o.StoredState() != kmip.StatePreActive || o.ObjectType() != kmip.ObjectTypeSymmetricKey {
			t.Errorf("index fields: state %v type %v", o.StoredState(), o.ObjectType())
		}
	})
	t.Run("client attributes kept with their types", func(t *testing.T) {
		for _, a := range attrs {
			wantAttr(t, o, a.AttributeName, a.AttributeValue)
		}
		byName := f.locateIDs(alice, name("alpha"))
		byGroup := f.locateIDs(alice, attr(kmip.AttributeNameObjectGroup, "g1"))
		if !slices.Equal(byName, []string{"k1"}) || !slices.Equal(byGroup, []string{"k1"}) {
			t.Errorf("Locate by name finds %v, by group %v", byName, byGroup)
		}
	})
	t.Run("dates truncated to seconds", func(t *testing.T) {
		d := o.Date(kmip.AttributeNameInitialDate)
		if d.Nanosecond() != 0 {
			t.Errorf("Initial Date %v has nanoseconds", d)
		}
	})
}

func TestCreateOverwritesServerManagedAttributes(t *testing.T) {
	f := newTestFSM(t)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	attrs := symKey("spoof",
		attr(kmip.AttributeNameUniqueIdentifier, "someone-else"),
		attr(kmip.AttributeNameState, kmip.StateActive),
		attr(kmip.AttributeNameInitialDate, old),
		attr(kmip.AttributeNameLastChangeDate, old),
		attr(kmip.AttributeNameState, kmip.StateCompromised),
	)
	p := storedObject("k1", attrs)
	p.Owner = bob      // the actor, not the body, decides the owner
	p.Revision = 99999 // the log index, not the body, decides the revision
	res := f.mustApply(createEntry(t, alice, t0, p))
	o := f.get("k1")

	// The four always-present ones come from the store; the dates and reason
	// that only life-cycle operations set are dropped.
	for _, name := range []kmip.AttributeName{kmip.AttributeNameUniqueIdentifier, kmip.AttributeNameState, kmip.AttributeNameInitialDate, kmip.AttributeNameLastChangeDate} {
		wantCount(t, o, name, 1)
	}
	for _, name := range []kmip.AttributeName{kmip.AttributeNameDestroyDate, kmip.AttributeNameCompromiseDate, kmip.AttributeNameCompromiseOccurrenceDate, kmip.AttributeNameRevocationReason, kmip.AttributeNameArchiveDate} {
		wantCount(t, o, name, 0)
	}
	wantAttr(t, o, kmip.AttributeNameUniqueIdentifier, "k1")
	wantAttr(t, o, kmip.AttributeNameState, kmip.StatePreActive)
	wantAttr(t, o, kmip.AttributeNameInitialDate, sec(t0))
	wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(t0))
	if o.Owner != alice || o.Revision != res.Index {
		t.Errorf("Owner %q Revision %d, want %q %d", o.Owner, o.Revision, alice, res.Index)
	}
	if o.StoredState() != kmip.StatePreActive {
		t.Errorf("State index = %v", o.StoredState())
	}
}

func TestCreateTwoObjectsAtomically(t *testing.T) {
	f := newTestFSM(t)
	pub := storedObject("pub", []kmip.Attribute{
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypePublicKey),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePrivateKeyLink, LinkedObjectIdentifier: "priv"}),
	})
	priv := storedObject("priv", []kmip.Attribute{
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypePrivateKey),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePublicKeyLink, LinkedObjectIdentifier: "pub"}),
	})
	res := f.mustApply(createEntry(t, alice, t0, pub, priv))
	if !slices.Equal(res.IDs, []string{"pub", "priv"}) {
		t.Fatalf("IDs = %v", res.IDs)
	}
	for _, id := range res.IDs {
		o := f.get(id)
		if o.Revision != res.Index || o.Owner != alice {
			t.Errorf("%s: Revision %d Owner %q", id, o.Revision, o.Owner)
		}
		wantAttr(t, o, kmip.AttributeNameState, kmip.StatePreActive)
		l := o.AttrAll(kmip.AttributeNameLink)
		if len(l) != 1 || !slices.Equal(f.locateIDs(alice, attr(kmip.AttributeNameLink, l[0])), []string{id}) {
			t.Errorf("%s: links %v not found by Locate", id, l)
		}
	}
	if f.Count() != 2 {
		t.Errorf("Count = %d, want 2", f.Count())
	}
}

func TestCreateFailuresWriteNothing(t *testing.T) {
	noType := storedObject("nt", []kmip.Attribute{attr(kmip.AttributeNameName, kmip.Name{NameValue: "x"})})
	badAttr := storedObject("ba", symKey("x"))
	badAttr.Attributes = append(badAttr.Attributes, []byte{0x42, 0x00})
	tests := []struct {
		name string
		objs []*kmsdpb.StoredObject
		want error
	}{
		{"duplicate of stored id", []*kmsdpb.StoredObject{storedObject("k1", symKey("a"))}, ErrExists},
		{"duplicate in second position", []*kmsdpb.StoredObject{storedObject("n1", symKey("a")), storedObject("k1", symKey("b"))}, ErrExists},
		{"duplicate within the batch", []*kmsdpb.StoredObject{storedObject("n1", symKey("a")), storedObject("n1", symKey("b"))}, ErrExists},
		{"missing Object Type", []*kmsdpb.StoredObject{noType}, ErrMalformed},
		{"second object missing Object Type", []*kmsdpb.StoredObject{storedObject("n1", symKey("a")), noType}, ErrMalformed},
		{"empty id", []*kmsdpb.StoredObject{storedObject("", symKey("a"))}, ErrMalformed},
		{"undecodable attribute", []*kmsdpb.StoredObject{storedObject("n1", symKey("a")), badAttr}, ErrMalformed},
		{"no objects", nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k1", symKey("orig"))))
			before, count := f.digest(), f.Count()

			res := f.apply(createEntry(t, alice, t0.Add(time.Hour), tt.objs...))
			if !errors.Is(res.Err, tt.want) {
				t.Fatalf("Err = %v, want %v", res.Err, tt.want)
			}
			if len(res.IDs) != 0 {
				t.Errorf("IDs = %v on failure", res.IDs)
			}
			if f.digest() != before || f.Count() != count {
				t.Errorf("store changed by a failed Create (count %d → %d)", count, f.Count())
			}
			if _, err := f.Get("n1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(n1) = %v, want ErrNotFound", err)
			}
			// A domain failure still consumes the log index.
			if f.AppliedIndex() != res.Index {
				t.Errorf("AppliedIndex = %d, want %d", f.AppliedIndex(), res.Index)
			}
		})
	}
}

func TestCreateDuplicateOfOtherTenantsID(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k1", symKey("a"))))
	res := f.apply(createEntry(t, bob, t0, storedObject("k1", symKey("b"))))
	if !errors.Is(res.Err, ErrExists) {
		t.Fatalf("Err = %v, want ErrExists", res.Err)
	}
	if o := f.get("k1"); o.Owner != alice {
		t.Errorf("Owner = %q after bob's failed Create", o.Owner)
	}
}

// Every domain failure must be a package sentinel so kmip/ can map it to a
// ResultReason. An empty actor makes go-memdb reject the insert (the owner
// index does not allow missing values) with its own error text.
func TestCreateEmptyActorIsMalformed(t *testing.T) {
	f := newTestFSM(t)
	res := f.apply(createEntry(t, "", t0, storedObject("k1", symKey("a"))))
	if !errors.Is(res.Err, ErrMalformed) {
		t.Errorf("Err = %v, want ErrMalformed", res.Err)
	}
	if f.Count() != 0 {
		t.Errorf("Count = %d after a rejected Create", f.Count())
	}
}

// The envelope says "a retried proposal with the same id is applied once" and
// errors.go declares ErrDuplicateCall, but Apply never looks at RequestId: a
// retried Create answers ErrExists and a retried Activate ErrWrongState, so a
// client whose first attempt succeeded is told it failed.
func TestRetriedRequestIsAppliedOnce(t *testing.T) {
	ok := func(err error) bool { return err == nil || errors.Is(err, ErrDuplicateCall) }
	t.Run("create", func(t *testing.T) {
		f := newTestFSM(t)
		entry := createEntry(t, alice, t0, storedObject("k1", symKey("a")))
		f.mustApply(entry)
		if res := f.apply(entry); !ok(res.Err) {
			t.Errorf("retried Create: Err = %v, want nil or ErrDuplicateCall", res.Err)
		}
	})
	t.Run("activate", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(createEntry(t, alice, t0, storedObject("k1", symKey("a"))))
		entry := activateEntry(t, alice, t0.Add(time.Minute), "k1")
		f.mustApply(entry)
		before := f.digest()
		if res := f.apply(entry); !ok(res.Err) {
			t.Errorf("retried Activate: Err = %v, want nil or ErrDuplicateCall", res.Err)
		}
		if f.digest() != before {
			t.Error("retried Activate changed the store")
		}
	})
}

// Object Type is single-valued (KMIP 1.4 §3.3: "Multiple instances
// permitted: No"). With two instances, Attr returns the first while reindex
// keeps the last, so the type index and the attribute disagree.
func TestCreateRejectsTwoObjectTypes(t *testing.T) {
	f := newTestFSM(t)
	attrs := symKey("k", attr(kmip.AttributeNameObjectType, kmip.ObjectTypePrivateKey))
	res := f.apply(createEntry(t, alice, t0, storedObject("k", attrs)))
	if errors.Is(res.Err, ErrMalformed) {
		return
	}
	o := f.get("k")
	first, _ := o.Attr(kmip.AttributeNameObjectType)
	t.Errorf("Create accepted two Object Types (Err = %v): attribute %v, index %v", res.Err, first, o.ObjectType())
}
