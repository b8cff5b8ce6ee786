package fsm

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// roundTripAttrs holds one attribute of every type the tests store,
// including custom attributes of every TTLV type.
func roundTripAttrs() []kmip.Attribute {
	when := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)
	return []kmip.Attribute{
		attr(kmip.AttributeNameUniqueIdentifier, "id-1"),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "alpha", NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "https://x/y", NameType: kmip.NameTypeUri}),
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypePrivateKey),
		attr(kmip.AttributeNameState, kmip.StateDestroyedCompromised),
		attr(kmip.AttributeNameInitialDate, when),
		attr(kmip.AttributeNameActivationDate, time.Unix(0, 0).UTC()),
		attr(kmip.AttributeNameDeactivationDate, when.In(time.FixedZone("X", -5*3600))),
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA),
		attr(kmip.AttributeNameCryptographicLength, int32(4096)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageSign|kmip.CryptographicUsageVerify|kmip.CryptographicUsageWrapKey),
		attr(kmip.AttributeNameObjectGroup, "group with spaces ✓"),
		attr(kmip.AttributeNameRevocationReason, kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise, RevocationMessage: "leaked"}),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePublicKeyLink, LinkedObjectIdentifier: "pub"}),
		attr("x-text", custom("red")),
		attr("x-empty-text", custom("")),
		attr("x-int", custom(int32(-7))),
		attr("x-long", custom(int64(1)<<40)),
		attr("x-big", custom(new(big.Int).Lsh(big.NewInt(1), 100))),
		attr("x-bool", custom(true)),
		attr("x-false", custom(false)),
		attr("x-bytes", custom([]byte{0, 1, 2, 0xff})),
		attr("x-date", custom(when)),
		attr("x-enum", custom(ttlv.Enum(0x8000_0001))),
		attr("x-interval", custom(90*time.Second)),
		attr("x-struct", custom(ttlv.Struct{
			{Tag: kmip.TagAttributeName, Value: "nested"},
			{Tag: kmip.TagCryptographicLength, Value: int32(128)},
		})),
		attr("y-vendor", custom("also custom")),
	}
}

func TestAttributeRoundTrip(t *testing.T) {
	for _, a := range roundTripAttrs() {
		t.Run(string(a.AttributeName), func(t *testing.T) {
			b := EncodeAttribute(a)
			got, err := DecodeAttribute(b)
			if err != nil {
				t.Fatalf("DecodeAttribute: %v", err)
			}
			if got.AttributeName != a.AttributeName || got.AttributeIndex != nil {
				t.Errorf("name %q index %v", got.AttributeName, got.AttributeIndex)
			}
			if !valuesEqual(got.AttributeValue, a.AttributeValue) {
				t.Errorf("value = %#v, want %#v", got.AttributeValue, a.AttributeValue)
			}
			// The encoding is canonical: snapshots and digests depend on it.
			if again := EncodeAttribute(got); !bytes.Equal(again, b) {
				t.Errorf("re-encoding differs:\n%x\n%x", again, b)
			}
		})
	}
}

// Only seconds survive a KMIP Date-Time; the store never sees more.
func TestAttributeDateTruncated(t *testing.T) {
	in := time.Date(2024, 1, 1, 0, 0, 1, 999_999_999, time.UTC)
	got, err := DecodeAttribute(EncodeAttribute(attr(kmip.AttributeNameInitialDate, in)))
	if err != nil {
		t.Fatal(err)
	}
	if d := got.AttributeValue.(time.Time); !d.Equal(in.Truncate(time.Second)) {
		t.Errorf("date %v, want %v", d, in.Truncate(time.Second))
	}
}

func TestAttributeIndexNotStored(t *testing.T) {
	idx := int32(3)
	a := kmip.Attribute{AttributeName: kmip.AttributeNameName, AttributeIndex: &idx, AttributeValue: kmip.Name{NameValue: "n"}}
	b := EncodeAttribute(a)
	if a.AttributeIndex == nil || *a.AttributeIndex != 3 {
		t.Error("EncodeAttribute modified its argument")
	}
	got, err := DecodeAttribute(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.AttributeIndex != nil {
		t.Errorf("AttributeIndex = %d, want none", *got.AttributeIndex)
	}
	a.AttributeIndex = nil
	if !bytes.Equal(b, EncodeAttribute(a)) {
		t.Error("the index changes the encoding")
	}
}

// Objects created with every attribute type survive Create, Persist and
// Restore with their values and their Go types.
func TestAttributesThroughSnapshot(t *testing.T) {
	f := newTestFSM(t)
	attrs := roundTripAttrs()
	f.mustApply(createEntry(t, alice, t0, storedObject("k", attrs)))
	dst := New(Config{})
	if err := dst.Restore(bytes.NewReader(f.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	// Server-managed attributes are replaced by Create; Name has two
	// instances and is checked below.
	skip := map[kmip.AttributeName]bool{kmip.AttributeNameName: true}
	for _, name := range serverManaged {
		skip[name] = true
	}
	for _, a := range attrs {
		if !skip[a.AttributeName] {
			wantAttr(t, got, a.AttributeName, a.AttributeValue)
		}
	}
	names := got.AttrAll(kmip.AttributeNameName)
	if len(names) != 2 || !valuesEqual(names[1], kmip.Name{NameValue: "https://x/y", NameType: kmip.NameTypeUri}) {
		t.Errorf("Name instances = %#v", names)
	}
	checkSameStore(t, f.FSM, dst)
}

func TestDecodeAttributeRejects(t *testing.T) {
	valid := EncodeAttribute(attr("x-text", custom("hello")))
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"one byte", []byte{0x42}},
		{"not a structure", EncodeAttribute(attr("x-text", custom("a")))[8:]},
		{"length past end", append(append([]byte{}, valid[:4]...), 0x00, 0x00, 0xff, 0xff)},
		{"garbage", bytes.Repeat([]byte{0xa5}, 64)},
		{"no value", EncodeAttribute(kmip.Attribute{AttributeName: "x-none"})},
	}
	for n := 1; n < len(valid); n += 3 {
		tests = append(tests, struct {
			name string
			data []byte
		}{"truncated", valid[:n]})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if r := recoverPanic(func() { _, err = DecodeAttribute(tt.data) }); r != nil {
				t.Fatalf("DecodeAttribute panicked: %v", r)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzDecodeAttribute checks that any input either decodes to an attribute
// whose encoding decodes to the same thing, or fails with ErrMalformed.
func FuzzDecodeAttribute(f *testing.F) {
	for _, a := range roundTripAttrs() {
		f.Add(EncodeAttribute(a))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAttribute(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			return
		}
		var b []byte
		if r := recoverPanic(func() { b = EncodeAttribute(a) }); r != nil {
			t.Fatalf("EncodeAttribute of a decoded attribute panicked: %v", r)
		}
		again, err := DecodeAttribute(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.AttributeName != a.AttributeName || !valuesEqual(again.AttributeValue, a.AttributeValue) {
			t.Fatalf("round trip changed %#v to %#v", a, again)
		}
	})
}

// zeroLengthBigInteger is a TTLV Attribute "x-big" whose value is a Big
// Integer of length 0. kmip-go decodes it to a nil *big.Int and panics when
// encoding that value again.
var zeroLengthBigInteger = []byte{
	0x42, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x18, // Attribute, Structure, 24 bytes
	0x42, 0x00, 0x0a, 0x07, 0x00, 0x00, 0x00, 0x05, 'x', '-', 'b', 'i', 'g', 0, 0, 0, // Attribute Name
	0x42, 0x00, 0x0b, 0x04, 0x00, 0x00, 0x00, 0x00, // Attribute Value, Big Integer, 0 bytes
}

// DecodeAttribute must only accept what EncodeAttribute can write back:
// otherwise a Create is applied, and every later Persist or Digest of the
// store panics on every replica.
func TestDecodeAttributeRejectsUnencodableValue(t *testing.T) {
	var err error
	if r := recoverPanic(func() { _, err = DecodeAttribute(zeroLengthBigInteger) }); r != nil {
		t.Fatalf("DecodeAttribute panicked: %v", r)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeAttribute = %v, want ErrMalformed", err)
	}

	f := newTestFSM(t)
	p := storedObject("k", symKey("k"))
	p.Attributes = append(p.Attributes, zeroLengthBigInteger)
	if res := f.apply(createEntry(t, alice, t0, p)); !errors.Is(res.Err, ErrMalformed) {
		t.Errorf("Create: Err = %v, want ErrMalformed", res.Err)
	}
	if r := recoverPanic(func() { _, _ = f.Digest() }); r != nil {
		t.Errorf("Digest panicked: %v", r)
	}
}
