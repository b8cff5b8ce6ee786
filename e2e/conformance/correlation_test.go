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
