package objkind

import (
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// Kind is how this server handles one object type.
type Kind struct {
	// Since is the first protocol version in which a client may register
	// (and Query lists) the type.
	Since kmip.ProtocolVersion
	// Validate checks an object a client registers, in plaintext, against
	// the attributes given with it; it may complete the key block.
	Validate func(obj kmip.Object, attrs []kmip.Attribute) error
	// Derive returns attributes computed from the object itself (a
	// certificate's subject, say); nil when there are none.
	Derive func(obj kmip.Object) []kmip.Attribute
	// Convert returns the object in another Key Format Type for Get; nil
	// when the type has a single format.
	Convert func(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error)
}

var kinds = map[kmip.ObjectType]Kind{}

// Register adds an object type. It is called from init functions only, and
// panics on a type registered twice or without Validate: both are
// programming errors that must fail every test.
func Register(t kmip.ObjectType, k Kind) {
	if _, dup := kinds[t]; dup {
		panic(fmt.Sprintf("objkind: object type %v registered twice", t))
	}
	if k.Validate == nil {
		panic(fmt.Sprintf("objkind: object type %v registered without Validate", t))
	}
	kinds[t] = k
}

// Lookup returns the registered kind of t.
func Lookup(t kmip.ObjectType) (Kind, bool) {
	k, ok := kinds[t]
	return k, ok
}

// Types lists, in ascending order, the registered types that version v may
// use.
func Types(v kmip.ProtocolVersion) []kmip.ObjectType {
	var out []kmip.ObjectType
	for t, k := range kinds {
		if ttlv.CompareVersions(v, k.Since) >= 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
