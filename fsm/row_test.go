package fsm

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/ovh/kmip-go"
	"google.golang.org/protobuf/proto"
)

// storable returns the corpus as the store holds attributes: each decoded
// from its encoding, leaving out those the store refuses.
func storable(t *testing.T) []kmip.Attribute {
	t.Helper()
	var out []kmip.Attribute
	for _, a := range codecCorpus() {
		if d, err := DecodeAttribute(EncodeAttribute(a)); err == nil {
			out = append(out, d)
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d storable corpus attributes", len(out))
	}
	return out
}

// rowObjects are objects whose rows exercise every entry form: derived
// attributes and the same attributes with values the row cannot derive, a
// second instance of a derived attribute, custom names, no material.
func rowObjects(t *testing.T) []*Object {
	corpus := storable(t)
	base := func(id string, attrs ...kmip.Attribute) *Object {
		o := &Object{ID: id, Owner: alice, Material: []byte("sealed:" + id), Revision: 7, Attrs: attrs}
		o.reindex()
		return o
	}
	uid := attr(kmip.AttributeNameUniqueIdentifier, "k1")
	typ := attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey)
	state := attr(kmip.AttributeNameState, kmip.StateActive)
	noMaterial := base("k5", uid, typ)
	noMaterial.Material = nil
	created := base("k6", uid, typ)
	created.Creator = "cn:alice-host@0123456789abcdef0123456789abcdef"
	return []*Object{
		base("k1", append([]kmip.Attribute{uid, typ, state}, corpus...)...),
		base("k2", uid, typ, state), // an identifier that is not the object's
		base("k3", typ, attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData), state, attr(kmip.AttributeNameState, kmip.StateDestroyed)),
		base("k4"),
		noMaterial,
		created,
	}
}

func TestRowRoundTrip(t *testing.T) {
	for _, o := range rowObjects(t) {
		r := newRow(o)
		got, err := r.object()
		if err != nil {
			t.Fatalf("%s: %v", o.ID, err)
		}
		if !proto.Equal(got.ToProto(), o.ToProto()) {
			t.Errorf("%s: decoded row differs:\n got %v\nwant %v", o.ID, got.ToProto(), o.ToProto())
		}
		if len(got.Attrs) != len(o.Attrs) {
			t.Fatalf("%s: %d attributes, want %d", o.ID, len(got.Attrs), len(o.Attrs))
		}
		for i, a := range o.Attrs {
			if g := got.Attrs[i]; g.AttributeName != a.AttributeName || !attrEqual(g.AttributeValue, a.AttributeValue) {
				t.Errorf("%s: attribute %d is %v, want %v", o.ID, i, g, a)
			}
		}
		if got.Type != o.Type || got.State != o.State || classOf(got) != r.class {
			t.Errorf("%s: class %+v, type %d state %d; want %+v", o.ID, r.class, got.Type, got.State, classOf(o))
		}
		p, err := r.toProto()
		if err != nil || !proto.Equal(p, o.ToProto()) {
			t.Errorf("%s: toProto %v (%v), want %v", o.ID, p, err, o.ToProto())
		}
		wantPB, err := proto.MarshalOptions{Deterministic: true}.Marshal(o.ToProto())
		if err != nil {
			t.Fatal(err)
		}
		if b, err := r.appendProto([]byte("prefix")); err != nil || string(b[:6]) != "prefix" || !bytes.Equal(b[6:], wantPB) {
			t.Errorf("%s: appendProto %x (%v), want %x", o.ID, b, err, wantPB)
		}
		if (o.Material == nil) != (got.Material == nil) {
			t.Errorf("%s: material %q, want %q", o.ID, got.Material, o.Material)
		}
		idx, err := r.partial(isIndexed)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.DeleteFunc(slices.Clone(o.Attrs), func(a kmip.Attribute) bool { return !isIndexed(a.AttributeName) })
		if !proto.Equal(idx.ToProto(), (&Object{ID: o.ID, Owner: o.Owner, Creator: o.Creator, Revision: o.Revision, Attrs: want}).ToProto()) {
			t.Errorf("%s: indexed attributes %v, want %v", o.ID, idx.Attrs, want)
		}
	}
}

// A cut or damaged row is reported or decodes to a prefix of its
// attributes, never into a panic or attributes it did not hold.
func TestRowCorrupt(t *testing.T) {
	o := rowObjects(t)[0]
	r := newRow(o)
	n := len(r.data) - int(r.matLen)
	errs := 0
	for cut := range n {
		bad := *r
		bad.data = slices.Clip(r.data[:int(r.matLen)+cut])
		got, err := bad.object()
		if err != nil {
			errs++
			continue
		}
		if len(got.Attrs) >= len(o.Attrs) || !proto.Equal(got.ToProto(), (&Object{ID: o.ID, Owner: o.Owner, Creator: o.Creator, Revision: o.Revision, Material: o.Material, Attrs: o.Attrs[:len(got.Attrs)]}).ToProto()) {
			t.Fatalf("row cut at %d decoded to %v", cut, got.Attrs)
		}
	}
	if errs < n/2 {
		t.Errorf("only %d of %d cuts reported", errs, n)
	}
	for _, tail := range [][]byte{{0xff}, {codeCustom, 200}, {codeCustom, 0x80}, {codeStandard, 0x42}} {
		bad := *r
		bad.data = append(slices.Clone(r.data), tail...)
		if _, err := bad.object(); err == nil {
			t.Errorf("tail %x decoded", tail)
		}
		if _, err := bad.toProto(); err == nil || errors.Is(err, ErrMalformed) {
			t.Errorf("tail %x: toProto %v", tail, err)
		}
		if _, err := bad.appendProto(nil); err == nil {
			t.Errorf("tail %x: appendProto encoded it", tail)
		}
	}
}
