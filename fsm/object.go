package fsm

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Object is one managed object, with its attributes as Go values. The store
// holds it in a compact form (row.go) and decodes a new Object for every
// read, so an Object a caller holds is its own.
type Object struct {
	ID    string
	Owner string // the tenant
	// Creator is the identity of the client that created the object, empty
	// for objects created before creators were recorded.
	Creator  string
	Material []byte // sealed; nil once destroyed
	Attrs    []kmip.Attribute
	// Revision is the log index of the command that created the object; it
	// never changes afterwards. With the ID it is the object's creation
	// order, the order in which Locate returns objects.
	Revision uint64

	// Derived from Attrs by reindex.
	Type  uint32
	State uint32
}

// Clone returns a deep enough copy to mutate attributes and material.
func (o *Object) Clone() *Object {
	c := *o
	c.Attrs = slices.Clone(o.Attrs)
	c.Material = slices.Clone(o.Material)
	return &c
}

// Attr returns the first instance of the named attribute.
func (o *Object) Attr(name kmip.AttributeName) (any, bool) {
	for _, a := range o.Attrs {
		if a.AttributeName == name {
			return a.AttributeValue, true
		}
	}
	return nil, false
}

// AttrAll returns every instance of the named attribute, in index order.
func (o *Object) AttrAll(name kmip.AttributeName) []any {
	var vals []any
	for _, a := range o.Attrs {
		if a.AttributeName == name {
			vals = append(vals, a.AttributeValue)
		}
	}
	return vals
}

// Date returns a Date-Time attribute, or the zero time.
func (o *Object) Date(name kmip.AttributeName) time.Time {
	v, _ := o.Attr(name)
	t, _ := v.(time.Time)
	return t
}

// ObjectType returns the KMIP object type.
func (o *Object) ObjectType() kmip.ObjectType { return kmip.ObjectType(o.Type) }

// StoredState returns the state as last written, without applying dates.
func (o *Object) StoredState() kmip.State { return kmip.State(o.State) }

// SetAttr replaces every instance of name with a single value, keeping the
// position of the first instance (or appending).
func (o *Object) SetAttr(name kmip.AttributeName, value any) {
	attrs := o.Attrs[:0:0]
	placed := false
	for _, a := range o.Attrs {
		if a.AttributeName != name {
			attrs = append(attrs, a)
			continue
		}
		if !placed {
			attrs = append(attrs, kmip.Attribute{AttributeName: name, AttributeValue: value})
			placed = true
		}
	}
	if !placed {
		attrs = append(attrs, kmip.Attribute{AttributeName: name, AttributeValue: value})
	}
	o.Attrs = attrs
	o.reindex()
}

// reindex recomputes the derived fields from the attributes.
func (o *Object) reindex() {
	for _, a := range o.Attrs {
		switch a.AttributeName {
		case kmip.AttributeNameObjectType:
			if v, ok := a.AttributeValue.(kmip.ObjectType); ok {
				o.Type = uint32(v)
			}
		case kmip.AttributeNameState:
			if v, ok := a.AttributeValue.(kmip.State); ok {
				o.State = uint32(v)
			}
		}
	}
}

// EncodeAttribute serialises one attribute as a TTLV Attribute structure.
func EncodeAttribute(a kmip.Attribute) []byte {
	a.AttributeIndex = nil
	if b, ok := encodeDirect(a); ok {
		return b
	}
	return ttlv.MarshalTTLV(&a)
}

// DecodeAttribute parses a TTLV Attribute structure.
func DecodeAttribute(b []byte) (kmip.Attribute, error) {
	if a, ok := decodeDirect(b); ok {
		return a, nil
	}
	return decodeReflect(b)
}

// decodeReflect parses an attribute with kmip-go's decoder.
func decodeReflect(b []byte) (a kmip.Attribute, err error) {
	defer func() {
		// The TTLV decoder is not hardened against every malformed input.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: attribute decoder panicked", ErrMalformed)
		}
	}()
	if err := ttlv.UnmarshalTTLV(b, &a); err != nil {
		return a, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if a.AttributeValue == nil {
		return a, fmt.Errorf("%w: attribute %q has no value", ErrMalformed, a.AttributeName)
	}
	// Some values decode but cannot be encoded again (a zero-length Big
	// Integer); storing one would break every later snapshot. The direct
	// codec never decodes one.
	_ = EncodeAttribute(a)
	return a, nil
}

// ToProto converts the object for a command or a snapshot.
func (o *Object) ToProto() *kmsdpb.StoredObject {
	p := &kmsdpb.StoredObject{Id: o.ID, Owner: o.Owner, SealedMaterial: o.Material, Revision: o.Revision, Creator: o.Creator}
	for _, a := range o.Attrs {
		p.Attributes = append(p.Attributes, EncodeAttribute(a))
	}
	return p
}

// ObjectFromProto is the inverse of ToProto.
func ObjectFromProto(p *kmsdpb.StoredObject) (*Object, error) {
	o := &Object{ID: p.GetId(), Owner: p.GetOwner(), Creator: p.GetCreator(), Material: p.GetSealedMaterial(), Revision: p.GetRevision()}
	o.Attrs = make([]kmip.Attribute, 0, len(p.GetAttributes()))
	for _, b := range p.GetAttributes() {
		a, err := DecodeAttribute(b)
		if err != nil {
			return nil, err
		}
		o.Attrs = append(o.Attrs, a)
	}
	o.reindex()
	return o, nil
}

// attrEqual compares two attribute values; times compare as instants, also
// inside the generic values of custom attributes.
func attrEqual(a, b any) bool {
	switch va := a.(type) {
	case time.Time:
		tb, ok := b.(time.Time)
		return ok && va.Equal(tb)
	case ttlv.Value:
		vb, ok := b.(ttlv.Value)
		return ok && va.Tag == vb.Tag && attrEqual(va.Value, vb.Value)
	case ttlv.Struct:
		vb, ok := b.(ttlv.Struct)
		return ok && slices.EqualFunc(va, vb, func(x, y ttlv.Value) bool { return attrEqual(x, y) })
	}
	return reflect.DeepEqual(a, b)
}
