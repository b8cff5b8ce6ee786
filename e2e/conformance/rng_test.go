package conformance

import "testing"

func attrXML(name, value string) string {
	return `<Attribute><AttributeName type="TextString" value="` + name + `"/>` + value + `</Attribute>`
}

// The Random Number Generator attribute describes the server's own
// generator: its value is not compared, and a server may report it where the
// recording server did not. Every other attribute stays exact.
func TestRandomNumberGeneratorRule(t *testing.T) {
	state := attrXML("State", `<AttributeValue type="Enumeration" value="Active"/>`)
	rng := func(alg string) string {
		return attrXML("Random Number Generator", `<AttributeValue><RNGAlgorithm type="Enumeration" value="`+alg+`"/></AttributeValue>`)
	}
	req := request("GetAttributes", uid("k"))
	t.Run("other generator", func(t *testing.T) {
		want := success("GetAttributes", uid("k")+state+rng("ANSIX9_31"))
		got := success("GetAttributes", uid("k")+state+rng("Unspecified"))
		expectDiffs(t, check(t, NewSession(), req, want, got))
	})
	t.Run("reported but not recorded", func(t *testing.T) {
		want := success("GetAttributes", uid("k")+state)
		got := success("GetAttributes", uid("k")+state+rng("Unspecified"))
		expectDiffs(t, check(t, NewSession(), req, want, got))
	})
	t.Run("other attributes stay exact", func(t *testing.T) {
		want := success("GetAttributes", uid("k")+state)
		got := success("GetAttributes", uid("k")+attrXML("State", `<AttributeValue type="Enumeration" value="PreActive"/>`)+
			attrXML("Contact Information", `<AttributeValue type="TextString" value="x"/>`))
		if len(check(t, NewSession(), req, want, got)) == 0 {
			t.Fatal("a wrong State and an extra attribute were accepted")
		}
	})
}
