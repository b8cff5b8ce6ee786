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
	t.Run("listed by Get Attribute List but not recorded", func(t *testing.T) {
		name := func(n string) string { return `<AttributeName type="TextString" value="` + n + `"/>` }
		want := success("GetAttributeList", uid("k")+name("State"))
		got := success("GetAttributeList", uid("k")+name("State")+name("Random Number Generator"))
		expectDiffs(t, check(t, NewSession(), request("GetAttributeList", uid("k")), want, got))
		extra := success("GetAttributeList", uid("k")+name("State")+name("Contact Information"))
		if len(check(t, NewSession(), request("GetAttributeList", uid("k")), want, extra)) == 0 {
			t.Error("an unrecorded Contact Information was accepted")
		}
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
