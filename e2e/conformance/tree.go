package conformance

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// typeOf returns the TTLV type of a leaf or structure value, including the
// placeholders Var and Now.
func typeOf(v any) ttlv.Type {
	switch v := v.(type) {
	case ttlv.Struct:
		return ttlv.TypeStructure
	case int32:
		return ttlv.TypeInteger
	case int64:
		return ttlv.TypeLongInteger
	case *big.Int:
		return ttlv.TypeBigInteger
	case ttlv.Enum:
		return ttlv.TypeEnumeration
	case bool:
		return ttlv.TypeBoolean
	case string:
		return ttlv.TypeTextString
	case []byte:
		return ttlv.TypeByteString
	case time.Time, Now:
		return ttlv.TypeDateTime
	case time.Duration:
		return ttlv.TypeInterval
	case Var:
		return v.Type
	}
	return 0
}

// child returns the first field of s with the given tag.
func child(s ttlv.Struct, tag int) (ttlv.Value, bool) {
	for _, f := range s {
		if f.Tag == tag {
			return f, true
		}
	}
	return ttlv.Value{}, false
}

// fields returns the fields of v if it is a structure.
func fields(v ttlv.Value) ttlv.Struct {
	s, _ := v.Value.(ttlv.Struct)
	return s
}

// path walks nested structures by tag, taking the first match at each level.
func path(v ttlv.Value, tags ...int) (ttlv.Value, bool) {
	for _, tag := range tags {
		f, ok := child(fields(v), tag)
		if !ok {
			return ttlv.Value{}, false
		}
		v = f
	}
	return v, true
}

func childrenWithTag(v ttlv.Value, tag int) []ttlv.Value {
	var out []ttlv.Value
	for _, f := range fields(v) {
		if f.Tag == tag {
			out = append(out, f)
		}
	}
	return out
}

// without returns s minus every field with the given tag, recursively.
func without(v ttlv.Value, tag int) ttlv.Value {
	s, ok := v.Value.(ttlv.Struct)
	if !ok {
		return v
	}
	out := make(ttlv.Struct, 0, len(s))
	for _, f := range s {
		if f.Tag != tag {
			out = append(out, without(f, tag))
		}
	}
	return ttlv.Value{Tag: v.Tag, Value: out}
}

// maxShown is how many bytes of a byte string or big integer a message shows:
// enough to tell values apart, never a whole key.
const maxShown = 8

// format renders a value for a difference message. enumTag names the
// enumeration a value belongs to (the Attribute Name's tag for an Attribute
// Value). Byte strings and big integers are truncated.
func format(v any, enumTag int) string {
	switch v := v.(type) {
	case ttlv.Struct:
		return formatStruct(v)
	case string:
		return strconv.Quote(v)
	case []byte:
		return formatBytes(v)
	case *big.Int:
		if v == nil {
			return "0"
		}
		sign := ""
		if v.Sign() < 0 {
			sign = "-"
		}
		return sign + formatBytes(new(big.Int).Abs(v).Bytes())
	case ttlv.Enum:
		if name := ttlv.EnumName(enumTag, uint32(v)); name != "" {
			return name
		}
		return fmt.Sprintf("0x%08X", uint32(v))
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case Now:
		return "$NOW(" + v.T.UTC().Format(time.RFC3339) + ")"
	case time.Duration:
		return fmt.Sprintf("%ds", int64(v.Seconds()))
	case Var:
		return v.Name
	case int32:
		return strconv.Itoa(int(v))
	}
	return fmt.Sprint(v)
}

// formatStruct shows small structures of leaves inline, such as a Protocol
// Version; anything bigger is summarised.
func formatStruct(s ttlv.Struct) string {
	if len(s) == 0 || len(s) > 4 {
		return fmt.Sprintf("Structure(%d fields)", len(s))
	}
	valueEnum := 0
	if name, ok := child(s, kmip.TagAttributeName); ok {
		if n, ok := name.Value.(string); ok {
			valueEnum = attributeTag(n)
		}
	}
	out := "{"
	for i, f := range s {
		if _, ok := f.Value.(ttlv.Struct); ok {
			return fmt.Sprintf("Structure(%d fields)", len(s))
		}
		if i > 0 {
			out += " "
		}
		enumTag := f.Tag
		if f.Tag == kmip.TagAttributeValue && valueEnum != 0 {
			enumTag = valueEnum
		}
		out += ttlv.TagString(f.Tag) + ":" + format(f.Value, enumTag)
	}
	return out + "}"
}

func formatBytes(b []byte) string {
	if len(b) <= maxShown {
		return fmt.Sprintf("%X", b)
	}
	return fmt.Sprintf("%X…(%d bytes)", b[:maxShown], len(b))
}

// byteLen is the length used by the relaxed "type and length" checks.
func byteLen(v any) int {
	switch v := v.(type) {
	case []byte:
		return len(v)
	case *big.Int:
		if v == nil {
			return 0
		}
		return len(new(big.Int).Abs(v).Bytes())
	}
	return 0
}

// equalLeaf compares two leaf values of the same TTLV type exactly.
func equalLeaf(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	case *big.Int:
		b, ok := b.(*big.Int)
		if !ok {
			return false
		}
		return bigOrZero(a).Cmp(bigOrZero(b)) == 0
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Unix() == b.Unix()
	}
	return a == b
}

func bigOrZero(v *big.Int) *big.Int {
	if v == nil {
		return new(big.Int)
	}
	return v
}
