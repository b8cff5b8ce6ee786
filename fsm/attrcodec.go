package fsm

import (
	"encoding/binary"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// A direct TTLV codec for the attributes a store holds most (enumerations,
// integers, booleans, dates, text, Name, Link, Digest and custom values of
// the simple TTLV types). The reflective kmip-go codec costs microseconds
// per attribute, which dominated Apply, snapshots and restores. Decoding
// takes only the canonical encoding kmip-go writes, exact lengths and zero
// padding, and hands anything else to kmip-go (DecodeAttribute): the direct
// path accepts nothing kmip-go would refuse and decodes to the same values
// (attrcodec_test.go compares the two).

// valueCodec is how the direct codec reads one standard attribute's value.
type valueCodec struct {
	typ ttlv.Type
	// make builds the value of the attribute's Go type from the decoded
	// primitive (uint32 for an Enumeration, int32 for an Integer).
	make func(any) any
}

func enumOf[T ~uint32](v any) any { return T(v.(uint32)) }
func intOf[T ~int32](v any) any   { return T(v.(int32)) }
func same(v any) any              { return v }

// directAttrs lists the standard attributes the direct codec decodes, with
// the Go types kmip-go gives them.
var directAttrs = map[kmip.AttributeName]valueCodec{
	kmip.AttributeNameUniqueIdentifier:          {ttlv.TypeTextString, same},
	kmip.AttributeNameOperationPolicyName:       {ttlv.TypeTextString, same},
	kmip.AttributeNameObjectGroup:               {ttlv.TypeTextString, same},
	kmip.AttributeNameContactInformation:        {ttlv.TypeTextString, same},
	kmip.AttributeNamePKCS_12FriendlyName:       {ttlv.TypeTextString, same},
	kmip.AttributeNameDescription:               {ttlv.TypeTextString, same},
	kmip.AttributeNameComment:                   {ttlv.TypeTextString, same},
	kmip.AttributeNameObjectType:                {ttlv.TypeEnumeration, enumOf[kmip.ObjectType]},
	kmip.AttributeNameState:                     {ttlv.TypeEnumeration, enumOf[kmip.State]},
	kmip.AttributeNameCryptographicAlgorithm:    {ttlv.TypeEnumeration, enumOf[kmip.CryptographicAlgorithm]},
	kmip.AttributeNameCertificateType:           {ttlv.TypeEnumeration, enumOf[kmip.CertificateType]},
	kmip.AttributeNameDigitalSignatureAlgorithm: {ttlv.TypeEnumeration, enumOf[kmip.DigitalSignatureAlgorithm]},
	kmip.AttributeNameCryptographicLength:       {ttlv.TypeInteger, intOf[int32]},
	kmip.AttributeNameCertificateLength:         {ttlv.TypeInteger, intOf[int32]},
	kmip.AttributeNameCryptographicUsageMask:    {ttlv.TypeInteger, intOf[kmip.CryptographicUsageMask]},
	kmip.AttributeNameInitialDate:               {ttlv.TypeDateTime, same},
	kmip.AttributeNameActivationDate:            {ttlv.TypeDateTime, same},
	kmip.AttributeNameProcessStartDate:          {ttlv.TypeDateTime, same},
	kmip.AttributeNameProtectStopDate:           {ttlv.TypeDateTime, same},
	kmip.AttributeNameDeactivationDate:          {ttlv.TypeDateTime, same},
	kmip.AttributeNameDestroyDate:               {ttlv.TypeDateTime, same},
	kmip.AttributeNameCompromiseOccurrenceDate:  {ttlv.TypeDateTime, same},
	kmip.AttributeNameCompromiseDate:            {ttlv.TypeDateTime, same},
	kmip.AttributeNameArchiveDate:               {ttlv.TypeDateTime, same},
	kmip.AttributeNameLastChangeDate:            {ttlv.TypeDateTime, same},
	kmip.AttributeNameOriginalCreationDate:      {ttlv.TypeDateTime, same},
	kmip.AttributeNameLeaseTime:                 {ttlv.TypeInterval, same},
	kmip.AttributeNameFresh:                     {ttlv.TypeBoolean, same},
	kmip.AttributeNameKeyValuePresent:           {ttlv.TypeBoolean, same},
	kmip.AttributeNameSensitive:                 {ttlv.TypeBoolean, same},
	kmip.AttributeNameAlwaysSensitive:           {ttlv.TypeBoolean, same},
	kmip.AttributeNameExtractable:               {ttlv.TypeBoolean, same},
	kmip.AttributeNameNeverExtractable:          {ttlv.TypeBoolean, same},
	kmip.AttributeNameName:                      {ttlv.TypeStructure, nil},
	kmip.AttributeNameLink:                      {ttlv.TypeStructure, nil},
	kmip.AttributeNameDigest:                    {ttlv.TypeStructure, nil},
	kmip.AttributeNameRandomNumberGenerator:     {ttlv.TypeStructure, nil},
}

// attrNames maps each standard attribute name to its constant.
var attrNames = func() map[string]kmip.AttributeName {
	m := make(map[string]kmip.AttributeName, len(kmip.AllAttributeNames))
	for _, n := range kmip.AllAttributeNames {
		m[string(n)] = n
	}
	return m
}()

// item is one TTLV item: its tag, type and value without padding.
type item struct {
	tag int
	typ ttlv.Type
	val []byte
}

// nextItem reads one canonical TTLV item from b: a complete header and
// value, with zero padding.
func nextItem(b []byte) (item, []byte, bool) {
	if len(b) < 8 {
		return item{}, nil, false
	}
	it := item{tag: int(b[0])<<16 | int(b[1])<<8 | int(b[2]), typ: ttlv.Type(b[3])}
	n := int(binary.BigEndian.Uint32(b[4:8]))
	padded := n + (8-n%8)%8
	if n < 0 || len(b)-8 < padded {
		return item{}, nil, false
	}
	it.val = b[8 : 8+n]
	for _, p := range b[8+n : 8+padded] {
		if p != 0 {
			return item{}, nil, false
		}
	}
	return it, b[8+padded:], true
}

// primitive decodes a primitive of type typ the way kmip-go does, from a
// value of exactly the length the encoding gives it.
func primitive(it item, typ ttlv.Type) (any, bool) {
	if it.typ != typ {
		return nil, false
	}
	v := it.val
	switch typ {
	case ttlv.TypeInteger, ttlv.TypeEnumeration, ttlv.TypeInterval:
		if len(v) != 4 {
			return nil, false
		}
		u := binary.BigEndian.Uint32(v)
		switch typ {
		case ttlv.TypeInteger:
			return int32(u), true
		case ttlv.TypeInterval:
			return time.Duration(u) * time.Second, true
		}
		return u, true
	case ttlv.TypeLongInteger:
		if len(v) != 8 {
			return nil, false
		}
		return int64(binary.BigEndian.Uint64(v)), true
	case ttlv.TypeBoolean:
		if len(v) != 8 || [7]byte(v[:7]) != [7]byte{} || v[7] > 1 {
			return nil, false
		}
		return v[7] == 1, true
	case ttlv.TypeDateTime:
		if len(v) != 8 {
			return nil, false
		}
		return time.Unix(int64(binary.BigEndian.Uint64(v)), 0), true
	case ttlv.TypeTextString:
		return string(v), true
	case ttlv.TypeByteString:
		return append([]byte{}, v...), true
	}
	return nil, false
}

// decodeDirect decodes a canonical Attribute structure of a type the direct
// codec knows; false sends it to kmip-go.
func decodeDirect(b []byte) (kmip.Attribute, bool) {
	name, value, ok := splitAttribute(b)
	if !ok {
		return kmip.Attribute{}, false
	}
	return directValue(name, value)
}

// splitAttribute returns the name and the value item of a canonical
// Attribute structure without an index.
func splitAttribute(b []byte) ([]byte, item, bool) {
	outer, rest, ok := nextItem(b)
	if !ok || len(rest) != 0 || outer.tag != kmip.TagAttribute || outer.typ != ttlv.TypeStructure {
		return nil, item{}, false
	}
	nameItem, rest, ok := nextItem(outer.val)
	if !ok || nameItem.tag != kmip.TagAttributeName || nameItem.typ != ttlv.TypeTextString {
		return nil, item{}, false
	}
	valueItem, rest, ok := nextItem(rest)
	if !ok || len(rest) != 0 || valueItem.tag != kmip.TagAttributeValue {
		return nil, item{}, false
	}
	return nameItem.val, valueItem, true
}

// directValue decodes the value of the named attribute, if the direct codec
// knows its type.
func directValue(rawName []byte, valueItem item) (kmip.Attribute, bool) {
	if name, std := attrNames[string(rawName)]; std {
		return directStandard(name, valueItem)
	}
	return directCustom(kmip.AttributeName(rawName), valueItem)
}

// directStandard decodes the value of a standard attribute.
func directStandard(name kmip.AttributeName, valueItem item) (kmip.Attribute, bool) {
	a := kmip.Attribute{AttributeName: name}
	c, ok := directAttrs[name]
	if !ok || c.typ != valueItem.typ {
		return a, false
	}
	if c.make == nil {
		a.AttributeValue, ok = directStruct(name, valueItem.val)
		return a, ok
	}
	v, ok := primitive(valueItem, c.typ)
	if !ok {
		return a, false
	}
	a.AttributeValue = c.make(v)
	return a, true
}

// directCustom decodes the value of a custom (x-, y-) attribute.
func directCustom(name kmip.AttributeName, valueItem item) (kmip.Attribute, bool) {
	a := kmip.Attribute{AttributeName: name}
	if !a.AttributeName.IsCustom() {
		return a, false
	}
	// kmip-go decodes a custom attribute's value as a generic ttlv.Value.
	var v any
	var ok bool
	switch valueItem.typ {
	case ttlv.TypeEnumeration:
		u, ok := primitive(valueItem, valueItem.typ)
		if !ok {
			return a, false
		}
		v = ttlv.Enum(u.(uint32))
	case ttlv.TypeInteger, ttlv.TypeLongInteger, ttlv.TypeBoolean, ttlv.TypeDateTime,
		ttlv.TypeInterval, ttlv.TypeTextString, ttlv.TypeByteString:
		if v, ok = primitive(valueItem, valueItem.typ); !ok {
			return a, false
		}
	default:
		return a, false
	}
	a.AttributeValue = ttlv.Value{Tag: kmip.TagAttributeValue, Value: v}
	return a, true
}

// structFields reads the fields of a structure value, each with its expected tag
// and type; optional fields may be absent, at the end only.
func structFields(b []byte, want []item, required int) ([]any, bool) {
	out := make([]any, 0, len(want))
	for i, w := range want {
		if len(b) == 0 && i >= required {
			break
		}
		it, rest, ok := nextItem(b)
		if !ok || it.tag != w.tag {
			return nil, false
		}
		v, ok := primitive(it, w.typ)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		b = rest
	}
	return out, len(b) == 0
}

// rngFields are the fields of RNG Parameters, each optional, in order.
var rngFields = []item{
	{tag: kmip.TagRNGAlgorithm, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagCryptographicAlgorithm, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagCryptographicLength, typ: ttlv.TypeInteger},
	{tag: kmip.TagHashingAlgorithm, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagDRBGAlgorithm, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagRecommendedCurve, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagFIPS186Variation, typ: ttlv.TypeEnumeration},
	{tag: kmip.TagPredictionResistance, typ: ttlv.TypeBoolean},
}

// rngParameters decodes RNG Parameters as kmip-go writes them: the fields
// that are not zero, in order.
func rngParameters(b []byte) (any, bool) {
	var p kmip.RNGParameters
	for _, w := range rngFields {
		if len(b) == 0 {
			break
		}
		it, rest, ok := nextItem(b)
		if !ok {
			return nil, false
		}
		if it.tag != w.tag {
			continue
		}
		v, ok := primitive(it, w.typ)
		if !ok {
			return nil, false
		}
		if w.tag == kmip.TagPredictionResistance {
			pr := v.(bool)
			p.PredictionResistance = &pr
		} else if !setRNGField(&p, w.tag, v) {
			return nil, false
		}
		b = rest
	}
	return p, len(b) == 0
}

// setRNGField sets one enumeration or integer field; a zero value, which
// kmip-go leaves out, is not canonical.
func setRNGField(p *kmip.RNGParameters, tag int, v any) bool {
	switch v := v.(type) {
	case uint32:
		if v == 0 {
			return false
		}
		switch tag {
		case kmip.TagRNGAlgorithm:
			p.RNGAlgorithm = kmip.RNGAlgorithm(v)
		case kmip.TagCryptographicAlgorithm:
			p.CryptographicAlgorithm = kmip.CryptographicAlgorithm(v)
		case kmip.TagHashingAlgorithm:
			p.HashingAlgorithm = kmip.HashingAlgorithm(v)
		case kmip.TagDRBGAlgorithm:
			p.DRBGAlgorithm = kmip.DRBGAlgorithm(v)
		case kmip.TagRecommendedCurve:
			p.RecommendedCurve = kmip.RecommendedCurve(v)
		case kmip.TagFIPS186Variation:
			p.FIPS186Variation = kmip.FIPS186Variation(v)
		}
	case int32:
		if v == 0 {
			return false
		}
		p.CryptographicLength = v
	}
	return true
}

var (
	nameFields   = []item{{tag: kmip.TagNameValue, typ: ttlv.TypeTextString}, {tag: kmip.TagNameType, typ: ttlv.TypeEnumeration}}
	linkFields   = []item{{tag: kmip.TagLinkType, typ: ttlv.TypeEnumeration}, {tag: kmip.TagLinkedObjectIdentifier, typ: ttlv.TypeTextString}}
	digestFields = []item{{tag: kmip.TagHashingAlgorithm, typ: ttlv.TypeEnumeration}, {tag: kmip.TagDigestValue, typ: ttlv.TypeByteString}, {tag: kmip.TagKeyFormatType, typ: ttlv.TypeEnumeration}}
)

// directStruct decodes the structures the direct codec knows as kmip-go
// writes them: every field present and, where kmip-go leaves out a zero
// value, not zero (the Key Format Type of a Digest may be absent).
func directStruct(name kmip.AttributeName, b []byte) (any, bool) {
	switch name {
	case kmip.AttributeNameName:
		f, ok := structFields(b, nameFields, 2)
		if !ok || f[0] == "" || f[1] == uint32(0) {
			return nil, false
		}
		return kmip.Name{NameValue: f[0].(string), NameType: kmip.NameType(f[1].(uint32))}, true
	case kmip.AttributeNameLink:
		f, ok := structFields(b, linkFields, 2)
		if !ok || f[0] == uint32(0) || f[1] == "" {
			return nil, false
		}
		return kmip.Link{LinkType: kmip.LinkType(f[0].(uint32)), LinkedObjectIdentifier: f[1].(string)}, true
	case kmip.AttributeNameRandomNumberGenerator:
		return rngParameters(b)
	case kmip.AttributeNameDigest:
		f, ok := structFields(b, digestFields, 2)
		if !ok {
			return nil, false
		}
		d := kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithm(f[0].(uint32)), DigestValue: f[1].([]byte)}
		if len(f) == 3 {
			if f[2] == uint32(0) {
				return nil, false
			}
			d.KeyFormatType = kmip.KeyFormatType(f[2].(uint32))
		}
		return d, true
	}
	return nil, false
}

// ttlvWriter appends canonical TTLV items.
type ttlvWriter struct{ b []byte }

func (w *ttlvWriter) header(tag int, typ ttlv.Type, n int) {
	w.b = append(w.b, byte(tag>>16), byte(tag>>8), byte(tag), byte(typ))
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
}

func (w *ttlvWriter) u32(tag int, typ ttlv.Type, v uint32) {
	w.header(tag, typ, 4)
	w.b = binary.BigEndian.AppendUint32(w.b, v)
	w.b = append(w.b, 0, 0, 0, 0)
}

func (w *ttlvWriter) u64(tag int, typ ttlv.Type, v uint64) {
	w.header(tag, typ, 8)
	w.b = binary.BigEndian.AppendUint64(w.b, v)
}

func (w *ttlvWriter) bytes(tag int, typ ttlv.Type, v []byte) {
	w.header(tag, typ, len(v))
	w.b = append(w.b, v...)
	w.b = append(w.b, make([]byte, (8-len(v)%8)%8)...)
}

func (w *ttlvWriter) text(tag int, v string) {
	w.header(tag, ttlv.TypeTextString, len(v))
	w.b = append(w.b, v...)
	w.b = append(w.b, make([]byte, (8-len(v)%8)%8)...)
}

// structure writes a structure whose fields fill writes.
func (w *ttlvWriter) structure(tag int, fill func()) {
	w.header(tag, ttlv.TypeStructure, 0)
	start := len(w.b)
	fill()
	binary.BigEndian.PutUint32(w.b[start-4:], uint32(len(w.b)-start))
}

// primitive writes a value of the simple Go types as kmip-go does; false
// for any other type.
func (w *ttlvWriter) primitive(tag int, v any) bool {
	switch v := v.(type) {
	case string:
		w.text(tag, v)
	case []byte:
		w.bytes(tag, ttlv.TypeByteString, v)
	case bool:
		var b uint64
		if v {
			b = 1
		}
		w.u64(tag, ttlv.TypeBoolean, b)
	case int32:
		w.u32(tag, ttlv.TypeInteger, uint32(v))
	case int64:
		w.u64(tag, ttlv.TypeLongInteger, uint64(v))
	case time.Time:
		w.u64(tag, ttlv.TypeDateTime, uint64(v.Unix()))
	case time.Duration:
		if v < 0 {
			return false
		}
		w.u32(tag, ttlv.TypeInterval, uint32(v.Seconds()))
	case ttlv.Enum:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.ObjectType:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.State:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.CryptographicAlgorithm:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.CertificateType:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.DigitalSignatureAlgorithm:
		w.u32(tag, ttlv.TypeEnumeration, uint32(v))
	case kmip.CryptographicUsageMask:
		w.u32(tag, ttlv.TypeInteger, uint32(v))
	default:
		return false
	}
	return true
}

// generic writes the value of a ttlv.Value of the simple TTLV types as
// kmip-go does (ttlv.Value.TagEncodeTTLV); false for others.
func (w *ttlvWriter) generic(tag int, v any) bool {
	switch v.(type) {
	case int32, int64, bool, []byte, time.Time, ttlv.Enum, time.Duration, string:
		return w.primitive(tag, v)
	}
	return false
}

// value writes an attribute value the direct codec knows; false for others.
// Zero fields of a structure are left out, as kmip-go's omitempty does.
func (w *ttlvWriter) value(v any) bool {
	const tag = kmip.TagAttributeValue
	switch v := v.(type) {
	case kmip.Name:
		w.structure(tag, func() {
			if v.NameValue != "" {
				w.text(kmip.TagNameValue, v.NameValue)
			}
			if v.NameType != 0 {
				w.u32(kmip.TagNameType, ttlv.TypeEnumeration, uint32(v.NameType))
			}
		})
	case kmip.Link:
		w.structure(tag, func() {
			if v.LinkType != 0 {
				w.u32(kmip.TagLinkType, ttlv.TypeEnumeration, uint32(v.LinkType))
			}
			if v.LinkedObjectIdentifier != "" {
				w.text(kmip.TagLinkedObjectIdentifier, v.LinkedObjectIdentifier)
			}
		})
	case kmip.Digest:
		w.structure(tag, func() {
			w.u32(kmip.TagHashingAlgorithm, ttlv.TypeEnumeration, uint32(v.HashingAlgorithm))
			w.bytes(kmip.TagDigestValue, ttlv.TypeByteString, v.DigestValue)
			if v.KeyFormatType != 0 {
				w.u32(kmip.TagKeyFormatType, ttlv.TypeEnumeration, uint32(v.KeyFormatType))
			}
		})
	case kmip.RNGParameters:
		w.structure(tag, func() {
			for _, f := range []struct {
				tag int
				v   uint32
			}{
				{kmip.TagRNGAlgorithm, uint32(v.RNGAlgorithm)},
				{kmip.TagCryptographicAlgorithm, uint32(v.CryptographicAlgorithm)},
			} {
				if f.v != 0 {
					w.u32(f.tag, ttlv.TypeEnumeration, f.v)
				}
			}
			if v.CryptographicLength != 0 {
				w.u32(kmip.TagCryptographicLength, ttlv.TypeInteger, uint32(v.CryptographicLength))
			}
			for _, f := range []struct {
				tag int
				v   uint32
			}{
				{kmip.TagHashingAlgorithm, uint32(v.HashingAlgorithm)},
				{kmip.TagDRBGAlgorithm, uint32(v.DRBGAlgorithm)},
				{kmip.TagRecommendedCurve, uint32(v.RecommendedCurve)},
				{kmip.TagFIPS186Variation, uint32(v.FIPS186Variation)},
			} {
				if f.v != 0 {
					w.u32(f.tag, ttlv.TypeEnumeration, f.v)
				}
			}
			if v.PredictionResistance != nil {
				var b uint64
				if *v.PredictionResistance {
					b = 1
				}
				w.u64(kmip.TagPredictionResistance, ttlv.TypeBoolean, b)
			}
		})
	case ttlv.Value:
		// The Attribute Value tag, whatever the value's own.
		return w.generic(tag, v.Value)
	default:
		return w.primitive(tag, v)
	}
	return true
}

// encodeDirect encodes an Attribute structure without an index; false for
// a value the direct codec does not know.
func encodeDirect(a kmip.Attribute) ([]byte, bool) {
	w := &ttlvWriter{b: make([]byte, 0, 64+len(a.AttributeName))}
	ok := true
	w.structure(kmip.TagAttribute, func() {
		w.text(kmip.TagAttributeName, string(a.AttributeName))
		ok = w.value(a.AttributeValue)
	})
	return w.b, ok
}
