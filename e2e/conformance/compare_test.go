package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// response builds a one-item ResponseMessage around op and body.
func response(op, body string) string {
	return fmt.Sprintf(`<ResponseMessage>
  <ResponseHeader>
    <ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="2"/></ProtocolVersion>
    <TimeStamp type="DateTime" value="2012-04-27T08:12:25+00:00"/>
    <BatchCount type="Integer" value="1"/>
  </ResponseHeader>
  <BatchItem><Operation type="Enumeration" value="%s"/>%s</BatchItem>
</ResponseMessage>`, op, body)
}

func success(op, payload string) string {
	return response(op, `<ResultStatus type="Enumeration" value="Success"/><ResponsePayload>`+payload+`</ResponsePayload>`)
}

func request(op, payload string) string {
	return fmt.Sprintf(`<RequestMessage><RequestHeader><BatchCount type="Integer" value="1"/></RequestHeader>
  <BatchItem><Operation type="Enumeration" value="%s"/><RequestPayload>%s</RequestPayload></BatchItem></RequestMessage>`, op, payload)
}

func uid(v string) string { return `<UniqueIdentifier type="TextString" value="` + v + `"/>` }

// check runs one Check and returns the differences as strings.
func check(t *testing.T, s *Session, req, want, got string) []string {
	t.Helper()
	if req == "" {
		req = request("Query", "")
	}
	diffs := s.Check(0, parseXML(t, testNow, req), parseXML(t, testNow, want), parseXML(t, testNow, got))
	var out []string
	for _, d := range diffs {
		out = append(out, d.String())
	}
	return out
}

func expectDiffs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d differences, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("difference %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

func TestVariableBinding(t *testing.T) {
	s := NewSession()
	create := success("Create", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("$UNIQUE_IDENTIFIER_0"))
	actual := success("Create", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("abc"))
	expectDiffs(t, check(t, s, "", create, actual))
	if v, _ := s.Bound("$UNIQUE_IDENTIFIER_0"); v != "abc" {
		t.Fatalf("bound to %v, want abc", v)
	}
	// Bound: must match afterwards.
	get := success("Destroy", uid("$UNIQUE_IDENTIFIER_0"))
	expectDiffs(t, check(t, s, "", get, success("Destroy", uid("abc"))))
	expectDiffs(t, check(t, s, "", get, success("Destroy", uid("xyz"))),
		`step 0 BatchItem[0]/ResponsePayload/UniqueIdentifier: want $UNIQUE_IDENTIFIER_0 = "abc" got "xyz"`)
	// A variable of the wrong type does not bind.
	expectDiffs(t, check(t, s, "", success("Destroy", uid("$OTHER")),
		success("Destroy", `<UniqueIdentifier type="Integer" value="1"/>`)), "want TextString $OTHER got Integer 1")
	if _, ok := s.Bound("$OTHER"); ok {
		t.Error("$OTHER bound despite the type mismatch")
	}
}

func TestSubstitute(t *testing.T) {
	s := NewSession()
	req := parseXML(t, testNow, request("Get", uid("$UNIQUE_IDENTIFIER_0")+
		`<ActivationDate type="DateTime" value="$NOW-3600"/>`))
	if _, err := s.Substitute(req); err == nil || !strings.Contains(err.Error(), "unbound variable $UNIQUE_IDENTIFIER_0") {
		t.Fatalf("err = %v, want unbound variable", err)
	}
	check(t, s, "", success("Create", uid("$UNIQUE_IDENTIFIER_0")), success("Create", uid("id-1")))
	out, err := s.Substitute(req)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := path(out, kmip.TagBatchItem, kmip.TagRequestPayload, kmip.TagUniqueIdentifier)
	date, _ := path(out, kmip.TagBatchItem, kmip.TagRequestPayload, kmip.TagActivationDate)
	if id.Value != "id-1" || !date.Value.(time.Time).Equal(testNow.Add(-time.Hour)) {
		t.Errorf("substituted %v %v", id.Value, date.Value)
	}
	// The encoder takes the result as is.
	if b := ttlv.MarshalTTLV(out); len(b) == 0 {
		t.Error("empty encoding")
	}
}

func TestDateTolerance(t *testing.T) {
	attr := func(v string) string {
		return success("GetAttributes", uid("a")+`<Attribute><AttributeName type="TextString" value="Activation Date"/>`+
			`<AttributeValue type="DateTime" value="`+v+`"/></Attribute>`)
	}
	at := func(d time.Duration) string { return attr(testNow.Add(d).Format(time.RFC3339)) }
	tests := []struct {
		name, want, got string
		diff            string
	}{
		{"now within 4 minutes", attr("$NOW"), at(4 * time.Minute), ""},
		{"now-3600 within tolerance", attr("$NOW-3600"), at(-time.Hour + time.Minute), ""},
		{"now 6 minutes off", attr("$NOW"), at(6 * time.Minute), "±5m0s got 2030-06-01T12:06:00Z"},
		{"now-3600 but got now", attr("$NOW-3600"), at(0), "want $NOW(2030-06-01T11:00:00Z) ±5m0s"},
		{"literal date is server-assigned", attr("2012-04-27T08:12:25+00:00"), at(0), ""},
		{"date must stay a date", attr("$NOW"), success("GetAttributes", uid("a")+
			`<Attribute><AttributeName type="TextString" value="Activation Date"/><AttributeValue type="Integer" value="1"/></Attribute>`),
			"want DateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			if tt.diff != "" {
				want = append(want, tt.diff)
			}
			expectDiffs(t, check(t, NewSession(), "", tt.want, tt.got), want...)
		})
	}
	// The header Time Stamp is ignored even when recorded as $NOW.
	stamp := strings.Replace(success("Activate", uid("a")), "2012-04-27T08:12:25+00:00", "$NOW", 1)
	expectDiffs(t, check(t, NewSession(), "", stamp, success("Activate", uid("a"))))
}

func getKey(id, material string) string {
	return success("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid(id)+
		`<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/>`+
		`<KeyValue><KeyMaterial type="ByteString" value="`+material+`"/></KeyValue>`+
		`<CryptographicAlgorithm type="Enumeration" value="AES"/><CryptographicLength type="Integer" value="128"/>`+
		`</KeyBlock></SymmetricKey>`)
}

func TestRelaxedRandomFields(t *testing.T) {
	recorded := strings.Repeat("ab", 16)
	other := strings.Repeat("cd", 16)
	s := NewSession()
	check(t, s, "", success("Create", uid("$UNIQUE_IDENTIFIER_0")), success("Create", uid("srv-1")))

	// The server generated srv-1: its key material is checked by length.
	expectDiffs(t, check(t, s, "", getKey("srv-1", recorded), getKey("srv-1", other)))
	expectDiffs(t, check(t, s, "", getKey("srv-1", recorded), getKey("srv-1", "cdcd")),
		"KeyMaterial: want ABABABABABABABAB…(16 bytes) got CDCD (random value: length must match)")
	// A key the client registered is compared exactly, and never printed in full.
	expectDiffs(t, check(t, s, "", getKey("client-1", recorded), getKey("client-1", other)),
		"want ABABABABABABABAB…(16 bytes) got CDCDCDCDCDCDCDCD…(16 bytes)")

	// Encrypt without a client IV: IV and ciphertext are random.
	enc := func(data, iv string) string {
		return success("Encrypt", uid("client-1")+`<Data type="ByteString" value="`+data+`"/><IVCounterNonce type="ByteString" value="`+iv+`"/>`)
	}
	noIV := request("Encrypt", uid("client-1")+`<Data type="ByteString" value="01020304"/>`)
	withIV := request("Encrypt", uid("client-1")+`<Data type="ByteString" value="01020304"/><IVCounterNonce type="ByteString" value="`+recorded+`"/>`)
	expectDiffs(t, check(t, s, noIV, enc(recorded, recorded), enc(other, other)))
	expectDiffs(t, check(t, s, withIV, enc(recorded, recorded), enc(other, recorded)), "ResponsePayload/Data: want")

	// RNG output and signatures.
	rng := func(d string) string { return success("RNGRetrieve", `<Data type="ByteString" value="`+d+`"/>`) }
	expectDiffs(t, check(t, s, "", rng(recorded), rng(other)))
	expectDiffs(t, check(t, s, "", rng(recorded), rng("00")), "length must match")
	sig := func(d string) string {
		return success("Sign", uid("client-1")+`<SignatureData type="ByteString" value="`+d+`"/>`)
	}
	expectDiffs(t, check(t, s, "", sig(strings.Repeat("11", 71)), sig(strings.Repeat("22", 70))))
}

func versions(vs ...string) string {
	var b strings.Builder
	for _, v := range vs {
		major, minor, _ := strings.Cut(v, ".")
		fmt.Fprintf(&b, `<ProtocolVersion><ProtocolVersionMajor type="Integer" value="%s"/><ProtocolVersionMinor type="Integer" value="%s"/></ProtocolVersion>`, major, minor)
	}
	return b.String()
}

func TestSubsetRule(t *testing.T) {
	dv := func(vs ...string) string { return success("DiscoverVersions", versions(vs...)) }
	expectDiffs(t, check(t, NewSession(), request("DiscoverVersions", ""), dv("1.2", "1.1", "1.0"), dv("1.4", "1.3", "1.2", "1.1", "1.0")))
	expectDiffs(t, check(t, NewSession(), request("DiscoverVersions", ""), dv("1.0", "1.2"), dv("1.2", "1.0")))
	expectDiffs(t, check(t, NewSession(), request("DiscoverVersions", ""), dv("1.1"), dv("1.2")),
		"ResponsePayload/ProtocolVersion: missing item: want {ProtocolVersionMajor:1 ProtocolVersionMinor:1} among the 1 items listed")
	// The server must not answer with versions the client did not offer.
	expectDiffs(t, check(t, NewSession(), request("DiscoverVersions", versions("1.1")), dv("1.1"), dv("1.2", "1.1")),
		"unexpected {ProtocolVersionMajor:1 ProtocolVersionMinor:2}: the client did not offer it")

	ops := func(names ...string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(`<Operation type="Enumeration" value="` + n + `"/>`)
		}
		return success("Query", b.String()+`<VendorIdentification type="TextString" value="Acme"/>`+
			`<ServerInformation><TTLV tag="0x540001" type="TextString" value="x"/></ServerInformation>`)
	}
	expectDiffs(t, check(t, NewSession(), "", ops("Create", "Get"), ops("Get", "Locate", "Create")))
	expectDiffs(t, check(t, NewSession(), "", ops("Create", "Get"), ops("Get")), "missing item: want Create")
	// Other operations keep exact counts and order.
	loc := func(ids ...string) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(uid(id))
		}
		return success("Locate", b.String())
	}
	expectDiffs(t, check(t, NewSession(), "", loc("a"), loc("a", "b")), "unexpected field: got \"b\"")
}

func TestExactMismatches(t *testing.T) {
	failed := response("Get", `<ResultStatus type="Enumeration" value="OperationFailed"/>`+
		`<ResultReason type="Enumeration" value="ItemNotFound"/><ResultMessage type="TextString" value="no such key"/>`)
	attr := func(alg string) string {
		return success("GetAttributes", uid("a")+`<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/>`+
			`<AttributeValue type="Enumeration" value="`+alg+`"/></Attribute>`)
	}
	tests := []struct {
		name, want, got string
		diffs           []string
	}{
		{"identical", attr("AES"), attr("AES"), nil},
		{"wrong result status", success("Get", uid("a")), failed, []string{
			"BatchItem[0]/ResultStatus: want Success got OperationFailed",
			"BatchItem[0]/ResponsePayload: missing field: want {UniqueIdentifier:\"a\"}",
			"BatchItem[0]/ResultReason: unexpected field: got ItemNotFound"}},
		{"result message is free text", failed, strings.Replace(failed, "no such key", "other words", 1), nil},
		{"wrong enum in attribute value", attr("AES"), attr("DES3"), []string{
			"BatchItem[0]/ResponsePayload/Attribute(Cryptographic Algorithm)/AttributeValue: want AES got DES3"}},
		{"missing field", success("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("a")),
			success("Get", uid("a")), []string{"ResponsePayload/ObjectType: missing field: want SymmetricKey"}},
		{"extra field", success("Get", uid("a")),
			success("Get", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid("a")),
			[]string{"ResponsePayload/ObjectType: unexpected field: got SymmetricKey"}},
		{"wrong operation", success("Get", uid("a")), success("Destroy", uid("a")),
			[]string{"BatchItem[0]/Operation: want Get got Destroy"}},
		{"wrong type", success("Get", uid("a")), success("Get", `<UniqueIdentifier type="ByteString" value="61"/>`),
			[]string{"want TextString \"a\" got ByteString 61"}},
		{"wrong batch count", success("Get", uid("a")),
			strings.Replace(success("Get", uid("a")), `<BatchCount type="Integer" value="1"/>`, `<BatchCount type="Integer" value="2"/>`, 1),
			[]string{"ResponseHeader/BatchCount: want 1 got 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectDiffs(t, check(t, NewSession(), "", tt.want, tt.got), tt.diffs...)
		})
	}
}

func TestFormatTruncates(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = 0xAA
	}
	if got := format(key, 0); got != "AAAAAAAAAAAAAAAA…(32 bytes)" {
		t.Errorf("format = %q", got)
	}
	if got := format(bigFromTwosComplement(key[:20]), 0); !strings.HasSuffix(got, "(20 bytes)") || !strings.HasPrefix(got, "-") {
		t.Errorf("format big = %q", got)
	}
}
