package conformance

import (
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

func TestUnorderedAttributes(t *testing.T) {
	names := func(ns ...string) string {
		var b strings.Builder
		b.WriteString(uid("a"))
		for _, n := range ns {
			b.WriteString(`<AttributeName type="TextString" value="` + n + `"/>`)
		}
		return success("GetAttributeList", b.String())
	}
	expectDiffs(t, check(t, NewSession(), "", names("State", "Name", "Digest"), names("Digest", "State", "Name")))
	expectDiffs(t, check(t, NewSession(), "", names("State", "Name"), names("Name", "State", "Fresh")),
		`AttributeName[2]: unexpected item: got "Fresh"`)
	expectDiffs(t, check(t, NewSession(), "", names("State", "Lease Time"), names("State")),
		`AttributeName[1]: missing item: want "Lease Time" among the 1 items listed`)

	attr := func(name, typ, value string) string {
		return `<Attribute><AttributeName type="TextString" value="` + name + `"/><AttributeValue type="` + typ + `" value="` + value + `"/></Attribute>`
	}
	state, alg := attr("State", "Enumeration", "Active"), attr("Cryptographic Algorithm", "Enumeration", "AES")
	ga := func(attrs ...string) string { return success("GetAttributes", uid("a")+strings.Join(attrs, "")) }
	expectDiffs(t, check(t, NewSession(), "", ga(state, alg), ga(alg, state)))
	// The counterpart with the same name shows the precise difference.
	expectDiffs(t, check(t, NewSession(), "", ga(state, alg), ga(alg, attr("State", "Enumeration", "PreActive"))),
		"Attribute[0](State)/AttributeValue: want Active got PreActive")
	// The Unique Identifier stays in front.
	expectDiffs(t, check(t, NewSession(), "", ga(state), success("GetAttributes", state+uid("a"))),
		"ResponsePayload: fields out of order: want [UniqueIdentifier Attribute] got [Attribute UniqueIdentifier]")
}

func TestOptionalLocatedItems(t *testing.T) {
	loc := func(minor, payload string) string {
		return strings.Replace(success("Locate", payload), `<ProtocolVersionMinor type="Integer" value="2"/>`,
			`<ProtocolVersionMinor type="Integer" value="`+minor+`"/>`, 1)
	}
	items := `<LocatedItems type="Integer" value="1"/>`
	expectDiffs(t, check(t, NewSession(), "", loc("3", uid("a")), loc("3", items+uid("a"))))
	// Not defined before KMIP 1.3: a 1.2 response must not carry it.
	expectDiffs(t, check(t, NewSession(), "", loc("2", uid("a")), loc("2", items+uid("a"))),
		"LocatedItems: unexpected field: got 1")
	// Recorded, it must match.
	expectDiffs(t, check(t, NewSession(), "", loc("3", items+uid("a")), loc("3", uid("a"))),
		"LocatedItems: missing field: want 1")
}

func TestResponseVersion(t *testing.T) {
	req := func(minor string) string {
		return `<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/>` +
			`<ProtocolVersionMinor type="Integer" value="` + minor + `"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader>` +
			`<BatchItem><Operation type="Enumeration" value="Activate"/><RequestPayload>` + uid("a") + `</RequestPayload></BatchItem></RequestMessage>`
	}
	resp := func(minor string) string {
		return strings.Replace(success("Activate", uid("a")), `<ProtocolVersionMinor type="Integer" value="2"/>`,
			`<ProtocolVersionMinor type="Integer" value="`+minor+`"/>`, 1)
	}
	// Recorded 1.2 for a 1.4 request: answering 1.4 is right.
	expectDiffs(t, check(t, NewSession(), req("4"), resp("2"), resp("4")))
	expectDiffs(t, check(t, NewSession(), req("4"), resp("2"), resp("2")))
	expectDiffs(t, check(t, NewSession(), req("4"), resp("2"), resp("3")),
		"ResponseHeader/ProtocolVersion/ProtocolVersionMinor: want 2 got 3")
}

func TestSubstituteFallback(t *testing.T) {
	mac := parseXML(t, testNow, request("MACVerify", uid("a")+`<MACData type="ByteString" value="$MAC_DATA"/>`))
	macResp := success("MAC", uid("a")+`<MACData type="ByteString" value="0102"/>`)

	s := NewSession()
	check(t, s, "", macResp, macResp)
	out, err := s.Substitute(mac)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := path(out, kmip.TagBatchItem, kmip.TagRequestPayload, kmip.TagMACData); format(got.Value, 0) != "0102" {
		t.Errorf("MAC Data = %v, want the server's 0102", got.Value)
	}

	// A variable that a recorded response binds never falls back: its
	// binding step failed, and the vector must say so.
	s = NewSession()
	s.Recorded([]Step{{Response: parseXML(t, testNow, success("Create", uid("$UNIQUE_IDENTIFIER_1")))}})
	check(t, s, "", success("Register", uid("$UNIQUE_IDENTIFIER_0")), success("Register", uid("r-1")))
	get := parseXML(t, testNow, request("Get", uid("$UNIQUE_IDENTIFIER_1")))
	if _, err := s.Substitute(get); err == nil {
		t.Error("$UNIQUE_IDENTIFIER_1 took the fallback")
	}
}

func TestDerivedKeys(t *testing.T) {
	derive := func(base string) string {
		return request("DeriveKey", `<ObjectType type="Enumeration" value="SymmetricKey"/>`+uid(base))
	}
	s := NewSession()
	check(t, s, "", success("Create", uid("$A")), success("Create", uid("srv")))
	check(t, s, derive("client"), success("DeriveKey", uid("$B")), success("DeriveKey", uid("from-client")))
	check(t, s, derive("srv"), success("DeriveKey", uid("$C")), success("DeriveKey", uid("from-srv")))
	for id, want := range map[string]bool{"srv": true, "from-client": false, "from-srv": true, "client": false} {
		if s.Created(id) != want {
			t.Errorf("Created(%s) = %v, want %v", id, !want, want)
		}
	}
}

func TestContinuesPrevious(t *testing.T) {
	for name, want := range map[string]bool{
		"v1.0/TL_M_3_10_tape_read.xml":                 true,
		"v1.4/SASED-M-3-14.xml":                        true,
		"v1.0/TL_M_2_10_tape_write_new_key.xml":        false,
		"v1.0/TC_313_10_Create_Locate_Get_Destroy.xml": false,
		"v1.3/SASED-M-1-13.xml":                        false,
		"v1.2/TC_32_12_Asynchronous_Locate.xml":        false,
		"v1.0/SKLC_M_3_10_SymmetricKeyLifecycle_3.xml": false,
	} {
		if got := ContinuesPrevious(name); got != want {
			t.Errorf("ContinuesPrevious(%s) = %v", name, got)
		}
	}
}
