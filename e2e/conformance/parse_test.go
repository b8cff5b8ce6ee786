package conformance

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// parseXML parses one element (a message or any fragment) for tests.
func parseXML(t *testing.T, now time.Time, s string) ttlv.Value {
	t.Helper()
	p := &xmlParser{d: xml.NewDecoder(strings.NewReader(s)), now: now}
	for {
		tok, err := p.d.Token()
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			v, err := p.element(start, 0)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			return v
		}
	}
}

func vectorsDir(t *testing.T) string {
	t.Helper()
	dir, err := VectorsDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseRealVectors(t *testing.T) {
	dir := vectorsDir(t)
	now := time.Now()
	tests := []struct {
		name  string
		steps int
		ops   []kmip.Operation
	}{
		// Create, Locate, Get, Destroy, then a Locate that finds nothing.
		{"v1.0/TC_313_10_Create_Locate_Get_Destroy.xml", 5, []kmip.Operation{
			kmip.OperationCreate, kmip.OperationLocate, kmip.OperationGet, kmip.OperationDestroy, kmip.OperationLocate}},
		{"v1.2/TC_161_12_Discover_Versions.xml", 5, nil},
		{"v1.4/TC-Q-CAP-1-14.xml", 1, []kmip.Operation{kmip.OperationQuery}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vec, err := ParseFile(dir, tt.name, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(vec.Steps) != tt.steps {
				t.Fatalf("%d steps, want %d", len(vec.Steps), tt.steps)
			}
			for i, op := range tt.ops {
				got, _ := path(vec.Steps[i].Request, kmip.TagBatchItem, kmip.TagOperation)
				if got.Value != ttlv.Enum(op) {
					t.Errorf("step %d operation %v, want %v", i, got.Value, op)
				}
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	dir := vectorsDir(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	vec, err := ParseFile(dir, "v1.0/TC_313_10_Create_Locate_Get_Destroy.xml", now)
	if err != nil {
		t.Fatal(err)
	}
	// The Create template: an Attribute Value enum resolved through its
	// Attribute Name, and a usage mask given by names.
	tpl, _ := path(vec.Steps[0].Request, kmip.TagBatchItem, kmip.TagRequestPayload, kmip.TagTemplateAttribute)
	attrs := childrenWithTag(tpl, kmip.TagAttribute)
	alg, _ := child(fields(attrs[1]), kmip.TagAttributeValue)
	if alg.Value != ttlv.Enum(kmip.CryptographicAlgorithm3DES) {
		t.Errorf("Cryptographic Algorithm = %v, want DES3", alg.Value)
	}
	mask, _ := child(fields(attrs[3]), kmip.TagAttributeValue)
	if want := int32(kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt); mask.Value != want {
		t.Errorf("usage mask = %v, want %d", mask.Value, want)
	}
	// Variables are kept as placeholders.
	uid, _ := path(vec.Steps[0].Response, kmip.TagBatchItem, kmip.TagResponsePayload, kmip.TagUniqueIdentifier)
	if uid.Value != (Var{Name: "$UNIQUE_IDENTIFIER_0", Type: ttlv.TypeTextString}) {
		t.Errorf("unique identifier = %#v, want Var", uid.Value)
	}
}

func TestParsePlaceholdersAndExtensions(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	v := parseXML(t, now, `<RequestPayload>
		<ActivationDate type="DateTime" value="$NOW-3600"/>
		<Data type="ByteString" value="$DATA_0"/>
		<TTLV tag="0x540001" type="TextString" value="na"/>
		<MaskGeneratorHashingAlgorithm type="Enumeration" value="SHA_256"/>
		<SplitKeyMethod type="Enumeration" value="PolynomialSharingGF2_8"/>
		<Modulus type="BigInteger" value="0000000000010001"/>
		<LeaseTime type="Interval" value="3600"/>
	</RequestPayload>`)
	f := fields(v)
	want := []any{
		Now{T: now.Add(-time.Hour)},
		Var{Name: "$DATA_0", Type: ttlv.TypeByteString},
		"na",
		ttlv.Enum(kmip.HashingAlgorithmSHA_256),
		ttlv.Enum(kmip.SplitKeyMethodPolynomialSharingGF28),
		nil, // checked below
		time.Hour,
	}
	if len(f) != len(want) {
		t.Fatalf("%d fields, want %d", len(f), len(want))
	}
	for i, w := range want {
		if w != nil && f[i].Value != w {
			t.Errorf("field %d (%s) = %#v, want %#v", i, ttlv.TagString(f[i].Tag), f[i].Value, w)
		}
	}
	if f[2].Tag != 0x540001 {
		t.Errorf("extension tag = %#x", f[2].Tag)
	}
	if got := byteLen(f[5].Value); got != 3 {
		t.Errorf("modulus length %d, want 3 (65537)", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"unknown tag":     `<KMIP><RequestMessage><NoSuchTag type="Integer" value="1"/></RequestMessage></KMIP>`,
		"unknown enum":    `<KMIP><RequestMessage><Operation type="Enumeration" value="Frobnicate"/></RequestMessage></KMIP>`,
		"no response":     `<KMIP><RequestMessage></RequestMessage></KMIP>`,
		"bad hex":         `<KMIP><RequestMessage><Data type="ByteString" value="zz"/></RequestMessage></KMIP>`,
		"empty file":      `<KMIP></KMIP>`,
		"not well formed": `<KMIP><RequestMessage>`,
		"unknown type":    `<KMIP><RequestMessage><Data type="Float" value="1"/></RequestMessage></KMIP>`,
		"wrong root":      `<TTLVs></TTLVs>`,
		"response first":  `<KMIP><ResponseMessage></ResponseMessage><RequestMessage></RequestMessage></KMIP>`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc), time.Now()); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
