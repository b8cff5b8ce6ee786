package fsm

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// codecCorpus holds attributes of every type the direct codec knows, with
// zero and extreme values, and some it leaves to kmip-go.
func codecCorpus() []kmip.Attribute {
	when := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	out := roundTripAttrs()
	for name, c := range directAttrs {
		switch c.typ {
		case ttlv.TypeTextString:
			out = append(out, attr(name, ""), attr(name, "text ✓ with more than eight bytes"))
		case ttlv.TypeDateTime:
			out = append(out, attr(name, when), attr(name, time.Unix(0, 0)), attr(name, time.Unix(-1, 0)))
		case ttlv.TypeBoolean:
			out = append(out, attr(name, true), attr(name, false))
		case ttlv.TypeInterval:
			out = append(out, attr(name, time.Duration(0)), attr(name, 90*time.Minute), attr(name, time.Hour))
		case ttlv.TypeEnumeration, ttlv.TypeInteger:
			for _, v := range []any{uint32(0), uint32(1), uint32(255), uint32(256), uint32(0x8000_0001), uint32(0xffff_ffff)} {
				if c.typ == ttlv.TypeInteger {
					v = int32(v.(uint32))
				}
				out = append(out, attr(name, c.make(v)))
			}
		}
	}
	return append(out,
		attr(kmip.AttributeNameName, kmip.Name{}),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "only a value"}),
		attr(kmip.AttributeNameName, kmip.Name{NameType: kmip.NameTypeUri}),
		attr(kmip.AttributeNameLink, kmip.Link{}),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypeParentLink}),
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypeChildLink, LinkedObjectIdentifier: "a-rather-long-target-identifier"}),
		attr(kmip.AttributeNameDigest, kmip.Digest{}),
		attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: bytes.Repeat([]byte{7}, 32)}),
		attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_1, DigestValue: []byte{1}, KeyFormatType: kmip.KeyFormatTypeRaw}),
		attr(kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified}),
		attr(kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{}),
		attr(kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{
			RNGAlgorithm: kmip.RNGAlgorithmDRBG, CryptographicAlgorithm: kmip.CryptographicAlgorithmAES, CryptographicLength: 256,
			HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DRBGAlgorithm: kmip.DRBGAlgorithmHMAC, RecommendedCurve: kmip.RecommendedCurveP_256,
			FIPS186Variation: kmip.FIPS186VariationGPXOriginal, PredictionResistance: new(true)}),
		attr(kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_1, PredictionResistance: new(false)}),
		attr(kmip.AttributeNameUsageLimits, kmip.UsageLimits{UsageLimitsTotal: 10, UsageLimitsUnit: kmip.UsageLimitsUnitByte}),
		attr("x-empty-bytes", custom([]byte{})),
		attr("x-zero-interval", custom(time.Duration(0))),
		attr("x-neg-long", custom(int64(-1))),
		attr("x-tagged", ttlv.Value{Tag: kmip.TagComment, Value: "own tag"}),
	)
}

// TestDirectCodecAgrees: the direct codec writes the bytes kmip-go writes,
// and decodes them to the values kmip-go decodes, with the same Go types.
func TestDirectCodecAgrees(t *testing.T) {
	direct := 0
	for _, a := range codecCorpus() {
		want := ttlv.MarshalTTLV(&a)
		if got := EncodeAttribute(a); !bytes.Equal(got, want) {
			t.Errorf("%s %#v: encoding\n%x, kmip-go\n%x", a.AttributeName, a.AttributeValue, got, want)
		}
		slow, err := decodeReflect(want)
		if err != nil {
			t.Fatalf("%s: kmip-go decode: %v", a.AttributeName, err)
		}
		fast, ok := decodeDirect(want)
		if !ok {
			continue
		}
		direct++
		if fast.AttributeName != slow.AttributeName || !reflect.DeepEqual(fast.AttributeValue, slow.AttributeValue) {
			t.Errorf("%s: direct decode %#v, kmip-go %#v", a.AttributeName, fast.AttributeValue, slow.AttributeValue)
		}
	}
	if direct < 120 {
		t.Errorf("the direct codec decoded only %d attributes of the corpus", direct)
	}
}

// TestDirectCodecNoLooserThanKmipGo changes every byte of valid encodings,
// truncates and extends them: whatever the direct codec accepts, kmip-go
// accepts and decodes to the same value.
func TestDirectCodecNoLooserThanKmipGo(t *testing.T) {
	for _, a := range codecCorpus() {
		valid := ttlv.MarshalTTLV(&a)
		var variants [][]byte
		for i := range valid {
			for _, v := range []byte{0, 1, 2, 0x80, 0xff, valid[i] ^ 1} {
				b := bytes.Clone(valid)
				b[i] = v
				variants = append(variants, b)
			}
			variants = append(variants, valid[:i])
		}
		variants = append(variants, append(bytes.Clone(valid), make([]byte, 8)...))
		for _, b := range variants {
			checkDirectNoLooser(t, b)
		}
	}
}

func checkDirectNoLooser(t *testing.T, b []byte) {
	t.Helper()
	fast, ok := decodeDirect(b)
	if !ok {
		return
	}
	slow, err := decodeReflect(b)
	if err != nil {
		t.Fatalf("direct codec accepts what kmip-go refuses (%v): %x", err, b)
	}
	if fast.AttributeName != slow.AttributeName || !reflect.DeepEqual(fast.AttributeValue, slow.AttributeValue) {
		t.Fatalf("direct decode %#v, kmip-go %#v of %x", fast, slow, b)
	}
	if again := EncodeAttribute(fast); !bytes.Equal(again, b) {
		t.Fatalf("direct codec accepted a non-canonical encoding %x (canonical %x)", b, again)
	}
}

// The lengths kmip-go mishandles (an Integer of 8 bytes, a Boolean of value
// 2, non-zero padding) go to kmip-go, whose answer stands.
func TestDirectCodecRefusesNonCanonical(t *testing.T) {
	canon := EncodeAttribute(attr(kmip.AttributeNameCryptographicLength, int32(256)))
	long := bytes.Clone(canon)
	binary.BigEndian.PutUint32(long[len(long)-12:], 8) // the value's length
	boolTwo := EncodeAttribute(attr(kmip.AttributeNameFresh, true))
	boolTwo[len(boolTwo)-1] = 2
	padded := bytes.Clone(canon)
	padded[len(padded)-1] = 1
	for name, b := range map[string][]byte{"integer of 8 bytes": long, "boolean 2": boolTwo, "padding": padded} {
		if _, ok := decodeDirect(b); ok {
			t.Errorf("%s: decoded directly", name)
		}
	}
}

// FuzzDirectCodec compares the direct codec with kmip-go on any input.
func FuzzDirectCodec(f *testing.F) {
	for _, a := range codecCorpus() {
		f.Add(EncodeAttribute(a))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDirectNoLooser(t, data) })
}

func BenchmarkDecodeAttribute(b *testing.B) {
	for _, tc := range []struct {
		name string
		a    kmip.Attribute
	}{
		{"enum", attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey)},
		{"date", attr(kmip.AttributeNameInitialDate, benchStart)},
		{"name", attr(kmip.AttributeNameName, kmip.Name{NameValue: "netapp-key-0000001", NameType: kmip.NameTypeUninterpretedTextString})},
		{"digest", attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: make([]byte, 32), KeyFormatType: kmip.KeyFormatTypeRaw})},
		{"custom", attr("x-NETAPP-ClusterId", custom("cluster-1"))},
	} {
		enc := EncodeAttribute(tc.a)
		b.Run(tc.name+"/direct", func(b *testing.B) {
			for b.Loop() {
				if _, err := DecodeAttribute(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/kmip-go", func(b *testing.B) {
			for b.Loop() {
				if _, err := decodeReflect(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
