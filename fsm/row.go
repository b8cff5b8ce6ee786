package fsm

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// row is how the store holds an object: the fields that the indexes and
// Locate read without decoding, and the sealed material and attributes in
// one byte string. An Object, with its attributes as Go values, costs
// several times as much memory per object (a slice header and a boxed value
// per attribute); an Object is built from a row for each read and written
// back as a new row, so a row is never changed once stored.
//
// The attribute encoding lives only in memory (snapshots and commands carry
// StoredObject), so it may change between builds. Each attribute is one
// entry, in the object's attribute order:
//
//	code            one byte: codeCustom, one of the derived codes, or
//	                codeStandard plus the position of a standard name
//	[name]          for codeCustom: uvarint length, then the name
//	[value]         the canonical TTLV Attribute Value item; absent for a
//	                derived code, whose value is the row's own field
//
// A derived code stands for an attribute whose value the row holds anyway:
// the Unique Identifier (the ID), the Object Type and the State (the class).
type row struct {
	ID       string
	Owner    string
	Creator  string
	Revision uint64
	class    objectClass
	// data is the sealed material, then the attributes.
	data   []byte
	matLen uint32
}

const (
	codeCustom = iota
	codeUniqueIdentifier
	codeObjectType
	codeState
	codeStandard
)

// standardNames lists the names that codeStandard+i stands for.
var standardNames = kmip.AllAttributeNames

// standardCodes maps a standard name to its code.
var standardCodes = func() map[kmip.AttributeName]byte {
	if codeStandard+len(standardNames) > 256 {
		panic("fsm: too many standard attribute names for one-byte codes")
	}
	m := make(map[kmip.AttributeName]byte, len(standardNames))
	for i, n := range standardNames {
		m[n] = byte(codeStandard + i)
	}
	return m
}()

// material returns the sealed material, nil once destroyed.
func (r *row) material() []byte {
	if r.matLen == 0 {
		return nil
	}
	return r.data[:r.matLen:r.matLen]
}

// newRow encodes an object whose derived fields are current (reindex).
func newRow(o *Object) *row {
	r := &row{ID: o.ID, Owner: o.Owner, Creator: o.Creator, Revision: o.Revision, class: classOf(o), matLen: uint32(len(o.Material))}
	w := &ttlvWriter{b: make([]byte, 0, len(o.Material)+24*len(o.Attrs))}
	w.b = append(w.b, o.Material...)
	for _, a := range o.Attrs {
		switch {
		case a.AttributeName == kmip.AttributeNameUniqueIdentifier && a.AttributeValue == any(o.ID):
			w.b = append(w.b, codeUniqueIdentifier)
			continue
		case a.AttributeName == kmip.AttributeNameObjectType && a.AttributeValue == any(kmip.ObjectType(r.class.typ)):
			w.b = append(w.b, codeObjectType)
			continue
		case a.AttributeName == kmip.AttributeNameState && a.AttributeValue == any(kmip.State(r.class.state)):
			w.b = append(w.b, codeState)
			continue
		}
		if code, std := standardCodes[a.AttributeName]; std {
			w.b = append(w.b, code)
		} else {
			w.b = append(w.b, codeCustom)
			w.b = binary.AppendUvarint(w.b, uint64(len(a.AttributeName)))
			w.b = append(w.b, a.AttributeName...)
		}
		mark := len(w.b)
		if !w.value(a.AttributeValue) {
			w.b = append(w.b[:mark], valueItemOf(a)...)
		}
	}
	r.data = slices.Clip(w.b)
	return r
}

// valueItemOf returns the Attribute Value item kmip-go's codec writes for
// a value the direct codec does not know.
func valueItemOf(a kmip.Attribute) []byte {
	a.AttributeIndex = nil
	b := ttlv.MarshalTTLV(&a)
	outer, _, _ := nextItem(b)
	_, rest, _ := nextItem(outer.val)
	return rest
}

// rowEntry is one decoded entry header.
type rowEntry struct {
	name    kmip.AttributeName
	derived byte // the derived code, or 0
	custom  bool
	value   item // the value item, when not derived
	raw     []byte
}

// entries calls fn with each attribute entry in order, until fn returns
// false. It fails on an entry it cannot read, which only a bug can write.
func (r *row) entries(fn func(e rowEntry) bool) error {
	b := r.data[r.matLen:]
	for len(b) > 0 {
		code := b[0]
		b = b[1:]
		var e rowEntry
		switch {
		case code == codeCustom:
			n, k := binary.Uvarint(b)
			if k <= 0 || n > uint64(len(b)-k) {
				return r.corrupt()
			}
			e.name, e.custom = kmip.AttributeName(b[k:k+int(n)]), true
			b = b[k+int(n):]
		case code == codeUniqueIdentifier:
			e.name, e.derived = kmip.AttributeNameUniqueIdentifier, code
		case code == codeObjectType:
			e.name, e.derived = kmip.AttributeNameObjectType, code
		case code == codeState:
			e.name, e.derived = kmip.AttributeNameState, code
		case int(code-codeStandard) < len(standardNames):
			e.name = standardNames[code-codeStandard]
		default:
			return r.corrupt()
		}
		if e.derived == 0 {
			start := b
			var ok bool
			if e.value, b, ok = nextItem(b); !ok {
				return r.corrupt()
			}
			e.raw = start[:len(start)-len(b)]
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

func (r *row) corrupt() error { return fmt.Errorf("fsm: stored object %q is unreadable", r.ID) }

// decode returns the attribute of an entry.
func (r *row) decode(e rowEntry) (kmip.Attribute, error) {
	switch e.derived {
	case codeUniqueIdentifier:
		return kmip.Attribute{AttributeName: e.name, AttributeValue: r.ID}, nil
	case codeObjectType:
		return kmip.Attribute{AttributeName: e.name, AttributeValue: kmip.ObjectType(r.class.typ)}, nil
	case codeState:
		return kmip.Attribute{AttributeName: e.name, AttributeValue: kmip.State(r.class.state)}, nil
	}
	direct := directStandard
	if e.custom {
		direct = directCustom
	}
	if a, ok := direct(e.name, e.value); ok {
		return a, nil
	}
	w := &ttlvWriter{}
	w.structure(kmip.TagAttribute, func() {
		w.text(kmip.TagAttributeName, string(e.name))
		w.b = append(w.b, e.raw...)
	})
	a, err := decodeReflect(w.b)
	if err != nil {
		return a, r.corrupt()
	}
	return a, nil
}

// object decodes the row into an Object the caller may change.
func (r *row) object() (*Object, error) { return r.partial(nil) }

// partial decodes the row with only the attributes keep admits (all when
// keep is nil), for a reader that looks at a few.
func (r *row) partial(keep func(kmip.AttributeName) bool) (*Object, error) {
	o := &Object{ID: r.ID, Owner: r.Owner, Creator: r.Creator, Revision: r.Revision, Type: r.class.typ, State: r.class.state}
	if m := r.material(); m != nil && keep == nil {
		o.Material = slices.Clone(m)
	}
	var err error
	if ierr := r.entries(func(e rowEntry) bool {
		if keep != nil && !keep(e.name) {
			return true
		}
		var a kmip.Attribute
		if a, err = r.decode(e); err != nil {
			return false
		}
		o.Attrs = append(o.Attrs, a)
		return true
	}); ierr != nil {
		return nil, ierr
	}
	return o, err
}

// isIndexed reports whether the attr index files objects by the attribute.
func isIndexed(name kmip.AttributeName) bool {
	_, ok := attrKind(name)
	return ok
}

// attrBytes returns the canonical TTLV Attribute structures of the row, as
// EncodeAttribute writes them, without decoding the values.
func (r *row) attrBytes() ([][]byte, error) {
	var out [][]byte
	var err error
	if ierr := r.entries(func(e rowEntry) bool {
		if e.derived != 0 {
			var a kmip.Attribute
			if a, err = r.decode(e); err != nil {
				return false
			}
			out = append(out, EncodeAttribute(a))
			return true
		}
		w := &ttlvWriter{b: make([]byte, 0, 16+len(e.name)+len(e.raw)+8)}
		w.structure(kmip.TagAttribute, func() {
			w.text(kmip.TagAttributeName, string(e.name))
			w.b = append(w.b, e.raw...)
		})
		out = append(out, w.b)
		return true
	}); ierr != nil {
		return nil, ierr
	}
	return out, err
}

// toProto converts the row for a snapshot, a digest or an undo.
func (r *row) toProto() (*kmsdpb.StoredObject, error) {
	attrs, err := r.attrBytes()
	if err != nil {
		return nil, err
	}
	return &kmsdpb.StoredObject{Id: r.ID, Owner: r.Owner, SealedMaterial: r.material(), Revision: r.Revision, Attributes: attrs, Creator: r.Creator}, nil
}

// StoredObject field numbers (proto/command.proto), for appendProto.
const (
	fieldID             = 1
	fieldOwner          = 2
	fieldSealedMaterial = 3
	fieldAttributes     = 4
	fieldRevision       = 5
	fieldCreator        = 6
)

// appendProto appends the StoredObject encoding of the row, the bytes a
// deterministic proto.Marshal of toProto writes, without building the
// message or a slice per attribute.
func (r *row) appendProto(b []byte) ([]byte, error) {
	if r.ID != "" {
		b = protowire.AppendTag(b, fieldID, protowire.BytesType)
		b = protowire.AppendString(b, r.ID)
	}
	if r.Owner != "" {
		b = protowire.AppendTag(b, fieldOwner, protowire.BytesType)
		b = protowire.AppendString(b, r.Owner)
	}
	if m := r.material(); len(m) > 0 {
		b = protowire.AppendTag(b, fieldSealedMaterial, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	var err error
	if ierr := r.entries(func(e rowEntry) bool {
		b = protowire.AppendTag(b, fieldAttributes, protowire.BytesType)
		if e.derived != 0 {
			var a kmip.Attribute
			if a, err = r.decode(e); err != nil {
				return false
			}
			b = protowire.AppendBytes(b, EncodeAttribute(a))
			return true
		}
		name := 8 + len(e.name) + (8-len(e.name)%8)%8
		b = protowire.AppendVarint(b, uint64(8+name+len(e.raw)))
		w := &ttlvWriter{b: b}
		w.header(kmip.TagAttribute, ttlv.TypeStructure, name+len(e.raw))
		w.text(kmip.TagAttributeName, string(e.name))
		b = append(w.b, e.raw...)
		return true
	}); ierr != nil {
		return nil, ierr
	}
	if err != nil {
		return nil, err
	}
	if r.Revision != 0 {
		b = protowire.AppendTag(b, fieldRevision, protowire.VarintType)
		b = protowire.AppendVarint(b, r.Revision)
	}
	if r.Creator != "" {
		b = protowire.AppendTag(b, fieldCreator, protowire.BytesType)
		b = protowire.AppendString(b, r.Creator)
	}
	return b, nil
}
