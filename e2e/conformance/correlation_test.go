package conformance

import (
	"strings"
	"testing"
)

// The Server Correlation Value is the server's own per-response value: any
// text matches, but a response without one still differs.
func TestServerCorrelationValue(t *testing.T) {
	withCorr := func(v string) string {
		r := success("Query", "")
		if v == "" {
			return r
		}
		return strings.Replace(r, `<BatchCount type="Integer" value="1"/>`,
			`<ServerCorrelationValue type="TextString" value="`+v+`"/><BatchCount type="Integer" value="1"/>`, 1)
	}
	expectDiffs(t, check(t, NewSession(), "", withCorr("8034DA-1"), withCorr("f00d")))
	if len(check(t, NewSession(), "", withCorr("8034DA-1"), withCorr(""))) == 0 {
		t.Error("a response without a Server Correlation Value matched one that has it")
	}
}

// A 1.4 server may send a Server Correlation Value the recording lacks; a
// 1.2 response must not carry one.
func TestUnrecordedServerCorrelationValue(t *testing.T) {
	add := func(r, version string) string {
		r = strings.Replace(r, `<ProtocolVersionMinor type="Integer" value="2"/>`, `<ProtocolVersionMinor type="Integer" value="`+version+`"/>`, 1)
		return strings.Replace(r, `<BatchCount type="Integer" value="1"/>`,
			`<ServerCorrelationValue type="TextString" value="f00d"/><BatchCount type="Integer" value="1"/>`, 1)
	}
	plain := success("Query", "")
	v14 := strings.Replace(plain, `<ProtocolVersionMinor type="Integer" value="2"/>`, `<ProtocolVersionMinor type="Integer" value="4"/>`, 1)
	req14 := strings.Replace(request("Query", ""), `<BatchCount`, `<ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="4"/></ProtocolVersion><BatchCount`, 1)
	expectDiffs(t, check(t, NewSession(), req14, v14, add(plain, "4")))
	if len(check(t, NewSession(), "", plain, add(plain, "2"))) == 0 {
		t.Error("a 1.2 response with a Server Correlation Value was accepted")
	}
}
