package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// Secondary index keys of the objects table, shared by the indexers (what
// an object is filed under) and by Locate (what a filter looks up), so the
// two cannot disagree.
//
// Every key starts with the owner, length-prefixed so that no owner's keys
// are a prefix of another's: one tenant's lookups never touch another
// tenant's objects. Every key ends with the object's creation order, its
// Revision (the log index of the command that created it) in big-endian
// and then its ID, which makes the key unique and puts the objects under
// any prefix in the order they were created.
//
// Two indexes, so that an object costs few index entries:
//
//   - class: one entry per object, owner | Object Type | stored State |
//     Cryptographic Algorithm | Cryptographic Length | flags | order. It
//     serves the scan of a tenant's objects and the filters on those four
//     attributes: Locate visits the few distinct classes a tenant has and
//     merges the ones a query admits.
//   - attr: one entry per instance of a Name, Object Group, Link or custom
//     (x-, y-) attribute, owner | kind | value | visibility | order. The
//     visibility (destroyed, archived) is what Locate decides before any
//     filter; in the key, it spares Locate a read of each object.

const (
	indexClass = "class"
	indexAttr  = "attr"
)

// classLen is the size of an encoded objectClass.
const classLen = 17

// flagArchived marks an object in archival storage.
const flagArchived = 1

// Visibility bits of an attr key.
const (
	visDestroyed = 1
	visArchived  = 2
)

// visibility returns the visibility byte of an object of class c.
func (c objectClass) visibility() byte {
	var v byte
	if isDestroyed(kmip.State(c.state)) {
		v |= visDestroyed
	}
	if c.flags&flagArchived != 0 {
		v |= visArchived
	}
	return v
}

// objectClass is what the class index files an object under after its owner.
type objectClass struct {
	typ, state, alg, length uint32
	flags                   byte
}

// classOf returns the object's class. Cryptographic Algorithm and Length
// are single-instance attributes (Create and Re-key refuse a second
// instance), so the first instance is the object's value.
func classOf(o *Object) objectClass {
	c := objectClass{typ: o.Type, state: o.State}
	algSeen, lenSeen := false, false
	for _, a := range o.Attrs {
		switch a.AttributeName {
		case kmip.AttributeNameCryptographicAlgorithm:
			if v, ok := a.AttributeValue.(kmip.CryptographicAlgorithm); ok && !algSeen {
				c.alg, algSeen = uint32(v), true
			}
		case kmip.AttributeNameCryptographicLength:
			if v, ok := a.AttributeValue.(int32); ok && !lenSeen {
				c.length, lenSeen = uint32(v), true
			}
		case kmip.AttributeNameArchiveDate:
			c.flags |= flagArchived
		}
	}
	return c
}

func (c objectClass) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, c.typ)
	b = binary.BigEndian.AppendUint32(b, c.state)
	b = binary.BigEndian.AppendUint32(b, c.alg)
	b = binary.BigEndian.AppendUint32(b, c.length)
	return append(b, c.flags)
}

// next returns the class that follows c in key order, or false after the
// last one.
func (c objectClass) next() (objectClass, bool) {
	var b [classLen]byte
	c.append(b[:0])
	for i := classLen - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return objectClass{
				typ:    binary.BigEndian.Uint32(b[0:]),
				state:  binary.BigEndian.Uint32(b[4:]),
				alg:    binary.BigEndian.Uint32(b[8:]),
				length: binary.BigEndian.Uint32(b[12:]),
				flags:  b[16],
			}, true
		}
	}
	return objectClass{}, false
}

// Kinds of attr index entries.
const (
	kindName   byte = 'n'
	kindGroup  byte = 'g'
	kindLink   byte = 'l'
	kindCustom byte = 'x'
)

// attrKind returns the kind of attr index entry an attribute makes, if any.
func attrKind(name kmip.AttributeName) (byte, bool) {
	switch name {
	case kmip.AttributeNameName:
		return kindName, true
	case kmip.AttributeNameObjectGroup:
		return kindGroup, true
	case kmip.AttributeNameLink:
		return kindLink, true
	}
	if name.IsCustom() {
		return kindCustom, true
	}
	return 0, false
}

// appendAttrValue appends the kind and the canonical encoding of an
// attribute's value, or reports that the value has none: a value of
// another type than the attribute's never equals a stored one. Locate
// keeps the filter's own matching as the rule and uses the key only to
// find candidates, so a key must be equal for any two values that match:
// a Name by its value whatever its type, a custom value by its TTLV
// encoding (a Date-Time is the same instant in any time zone).
func appendAttrValue(b []byte, a kmip.Attribute) ([]byte, bool) {
	kind, ok := attrKind(a.AttributeName)
	if !ok {
		return b, false
	}
	b = append(b, kind)
	switch kind {
	case kindName:
		v, ok := a.AttributeValue.(kmip.Name)
		return appendString(b, v.NameValue), ok
	case kindGroup:
		v, ok := a.AttributeValue.(string)
		return appendString(b, v), ok
	case kindLink:
		v, ok := a.AttributeValue.(kmip.Link)
		b = binary.BigEndian.AppendUint32(b, uint32(v.LinkType))
		return appendString(b, v.LinkedObjectIdentifier), ok
	}
	v, ok := a.AttributeValue.(ttlv.Value)
	if !ok {
		return b, false
	}
	enc, err := encodeValue(v)
	if err != nil {
		return b, false
	}
	b = appendString(b, string(a.AttributeName))
	return appendString(b, string(enc)), true
}

// encodeValue returns the TTLV encoding of a generic value; kmip-go's
// encoder panics on a Go type TTLV has no encoding for.
func encodeValue(v ttlv.Value) (enc []byte, err error) {
	w := &ttlvWriter{}
	if w.generic(v.Tag, v.Value) {
		return w.b, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: value of type %T has no TTLV encoding", ErrMalformed, v.Value)
		}
	}()
	return ttlv.MarshalTTLV(v), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOwner(b []byte, owner string) []byte { return appendString(b, owner) }

// appendOrder appends the object's creation order.
func appendOrder(b []byte, o *Object) []byte {
	b = binary.BigEndian.AppendUint64(b, o.Revision)
	return append(b, o.ID...)
}

// orderLen is the size of the creation order of an object.
func orderLen(o *Object) int { return 8 + len(o.ID) }

// classKey is the class index key of an object.
func classKey(o *Object, c objectClass) []byte {
	owner := appendOwner(nil, o.Owner)
	b := make([]byte, 0, len(owner)+classLen+orderLen(o))
	b = c.append(append(b, owner...))
	return appendOrder(b, o)
}

// attrKeys returns the attr index keys of an object of class c, each once.
func attrKeys(o *Object, c objectClass) ([][]byte, error) {
	var keys [][]byte
	owner := appendOwner(nil, o.Owner)
	vis := c.visibility()
	var buf []byte
	for _, a := range o.Attrs {
		if _, ok := attrKind(a.AttributeName); !ok {
			continue
		}
		var ok bool
		buf, ok = appendAttrValue(append(buf[:0], owner...), a)
		if !ok {
			if a.AttributeName.IsCustom() {
				// Every stored value has an encoding (DecodeAttribute);
				// one without would be missing from the index.
				return nil, fmt.Errorf("%w: attribute %q cannot be indexed", ErrMalformed, a.AttributeName)
			}
			continue
		}
		k := make([]byte, 0, len(buf)+1+orderLen(o))
		k = append(append(k, buf...), vis)
		keys = append(keys, appendOrder(k, o))
	}
	slices.SortFunc(keys, bytes.Compare)
	return slices.CompactFunc(keys, bytes.Equal), nil
}

// errIndexArgs reports a lookup that does not pass one key prefix.
var errIndexArgs = errors.New("fsm: index lookup takes one []byte key")

// keyArg is FromArgs of the class and attr indexes: Locate builds the key
// prefixes itself.
func keyArg(args []any) ([]byte, error) {
	if len(args) != 1 {
		return nil, errIndexArgs
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, errIndexArgs
	}
	return b, nil
}

// classIndexer files each object under its class key.
type classIndexer struct{}

func (classIndexer) FromObject(raw any) (bool, []byte, error) {
	r, ok := raw.(*row)
	if !ok {
		return false, nil, fmt.Errorf("fsm: class index of %T", raw)
	}
	// Every object has an owner; the store refuses one without.
	return r.Owner != "", classKey(&Object{ID: r.ID, Owner: r.Owner, Revision: r.Revision}, r.class), nil
}

func (classIndexer) FromArgs(args ...any) ([]byte, error) { return keyArg(args) }

// attrIndexer files each object under its attr keys.
type attrIndexer struct{}

func (attrIndexer) FromObject(raw any) (bool, [][]byte, error) {
	r, ok := raw.(*row)
	if !ok {
		return false, nil, fmt.Errorf("fsm: attr index of %T", raw)
	}
	o, err := r.partial(isIndexed)
	if err != nil {
		return false, nil, err
	}
	keys, err := attrKeys(o, r.class)
	return len(keys) > 0, keys, err
}

func (attrIndexer) FromArgs(args ...any) ([]byte, error) { return keyArg(args) }
