package kmip_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func rekey(id string, offset *time.Duration, attrs ...kmip.Attribute) *payloads.RekeyRequestPayload {
	req := &payloads.RekeyRequestPayload{UniqueIdentifier: id, Offset: offset}
	if len(attrs) > 0 {
		tpl := template(attrs...)
		req.TemplateAttribute = &tpl
	}
	return req
}

func rekeyed(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, req *payloads.RekeyRequestPayload) string {
	t.Helper()
	id := ok[*payloads.RekeyResponsePayload](t, do(t, f, v, req)).UniqueIdentifier
	if id == "" || id == req.UniqueIdentifier {
		t.Fatalf("Re-key answered id %q", id)
	}
	return id
}

func keyBytes(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, id string) []byte {
	t.Helper()
	resp := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id}))
	b, err := resp.Object.(*kmip.SymmetricKey).KeyBlock.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func links(attrs []kmip.Attribute) []kmip.Link {
	var out []kmip.Link
	for _, a := range attrs {
		if l, isLink := a.AttributeValue.(kmip.Link); isLink {
			out = append(out, l)
		}
	}
	return out
}

// TestRekey follows OASIS TC-91 in every version: the replacement takes
// over the name, both keys stay retrievable, and they are linked.
func TestRekey(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			old := create(t, f, v, name("k"), attr(kmip.AttributeNameObjectGroup, "g"), attr("x-app", "mongo"))
			oldKey := keyBytes(t, f, v, old)
			f.Clock.Advance(time.Minute)
			repl := rekeyed(t, f, v, rekey(old, nil))

			newKey := keyBytes(t, f, v, repl)
			if len(newKey) != 32 || bytes.Equal(newKey, oldKey) {
				t.Errorf("replacement material: %d bytes, same as old: %v", len(newKey), bytes.Equal(newKey, oldKey))
			}
			if !bytes.Equal(keyBytes(t, f, v, old), oldKey) {
				t.Error("the existing key's material changed")
			}
			ra := getAttrs(t, f, v, repl)
			for _, n := range []kmip.AttributeName{kmip.AttributeNameName, kmip.AttributeNameObjectGroup, "x-app", kmip.AttributeNameCryptographicLength, kmip.AttributeNameCryptographicUsageMask} {
				if _, found := value(ra, n); !found {
					t.Errorf("replacement lacks %q", n)
				}
			}
			if got := links(ra); !slices.Equal(got, []kmip.Link{{LinkType: kmip.LinkTypeReplacedObjectLink, LinkedObjectIdentifier: old}}) {
				t.Errorf("replacement links %v", got)
			}
			if s, _ := value(ra, kmip.AttributeNameState); s != kmip.StatePreActive {
				t.Errorf("replacement state %v", s)
			}
			if d, _ := value(ra, kmip.AttributeNameInitialDate); !isTime(d, f.Clock.Now()) {
				t.Errorf("replacement Initial Date %v, want now", d)
			}
			oa := getAttrs(t, f, v, old)
			if _, found := value(oa, kmip.AttributeNameName); found {
				t.Error("the existing key kept its name")
			}
			if got := links(oa); !slices.Equal(got, []kmip.Link{{LinkType: kmip.LinkTypeReplacementObjectLink, LinkedObjectIdentifier: repl}}) {
				t.Errorf("existing key links %v", got)
			}
			found := ok[*payloads.LocateResponsePayload](t, do(t, f, v, &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{name("k")}}))
			if !slices.Equal(found.UniqueIdentifier, []string{repl}) {
				t.Errorf("Locate by name found %v, want the replacement", found.UniqueIdentifier)
			}
		})
	}
}

// TestRekeyBatch is TC-REKEY-1-10: each Re-key sets the ID Placeholder to
// the replacement, so a chain of Re-keys carries every name forward.
func TestRekeyBatch(t *testing.T) {
	f := kmiptest.New(t)
	old := create(t, f, kmip.V1_4, name("original"), attr(kmip.AttributeNameActivationDate, hourLater().Add(-2*time.Hour)))
	items := exec(t, f, alice, kmip.V1_4,
		rekey(old, nil, name("first")),
		rekey("", nil, name("second")),
		&payloads.GetAttributesRequestPayload{AttributeName: []kmip.AttributeName{kmip.AttributeNameName, kmip.AttributeNameState}},
	)
	first := ok[*payloads.RekeyResponsePayload](t, items[0]).UniqueIdentifier
	second := ok[*payloads.RekeyResponsePayload](t, items[1]).UniqueIdentifier
	resp := ok[*payloads.GetAttributesResponsePayload](t, items[2])
	if first == second || resp.UniqueIdentifier != second {
		t.Fatalf("ids %s, %s; Get Attributes answered for %s", first, second, resp.UniqueIdentifier)
	}
	var got []string
	for _, a := range resp.Attribute {
		if n, isName := a.AttributeValue.(kmip.Name); isName {
			got = append(got, n.NameValue)
		}
	}
	if !slices.Equal(got, []string{"original", "first", "second"}) {
		t.Errorf("names %v", got)
	}
	if s, _ := value(resp.Attribute, kmip.AttributeNameState); s != kmip.StateActive {
		t.Errorf("state %v, want Active: the activation date was copied", s)
	}
}

// TestRekeyDates: dates are copied without an Offset (TC-93), computed from
// it otherwise (TC-92), or taken from the request (TC-94).
func TestRekeyDates(t *testing.T) {
	now := kmiptest.Epoch
	act, deact := now.Add(-time.Hour), now.Add(time.Hour)
	hour := time.Hour
	tests := []struct {
		name      string
		req       func(id string) *payloads.RekeyRequestPayload
		wantAct   time.Time
		wantDeact time.Time
		wantState kmip.State
	}{
		{"copied", func(id string) *payloads.RekeyRequestPayload { return rekey(id, nil) }, act, deact, kmip.StateActive},
		{"offset zero", func(id string) *payloads.RekeyRequestPayload { return rekey(id, new(time.Duration)) }, now, now.Add(2 * time.Hour), kmip.StateActive},
		{"offset one hour", func(id string) *payloads.RekeyRequestPayload { return rekey(id, &hour) }, now.Add(time.Hour), now.Add(3 * time.Hour), kmip.StatePreActive},
		{"new life-cycle", func(id string) *payloads.RekeyRequestPayload {
			return rekey(id, nil, attr(kmip.AttributeNameActivationDate, now.Add(-24*time.Hour)), attr(kmip.AttributeNameDeactivationDate, now.Add(24*time.Hour)))
		}, now.Add(-24 * time.Hour), now.Add(24 * time.Hour), kmip.StateActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			old := create(t, f, kmip.V1_2, attr(kmip.AttributeNameActivationDate, act), attr(kmip.AttributeNameDeactivationDate, deact))
			ok[*payloads.RevokeResponsePayload](t, do(t, f, kmip.V1_2, &payloads.RevokeRequestPayload{
				UniqueIdentifier: old, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise},
			}))
			repl := rekeyed(t, f, kmip.V1_2, tt.req(old))
			ra := getAttrs(t, f, kmip.V1_2, repl, kmip.AttributeNameActivationDate, kmip.AttributeNameDeactivationDate, kmip.AttributeNameState)
			if a, _ := value(ra, kmip.AttributeNameActivationDate); !isTime(a, tt.wantAct) {
				t.Errorf("Activation Date %v, want %v", a, tt.wantAct)
			}
			if d, _ := value(ra, kmip.AttributeNameDeactivationDate); !isTime(d, tt.wantDeact) {
				t.Errorf("Deactivation Date %v, want %v", d, tt.wantDeact)
			}
			if s, _ := value(ra, kmip.AttributeNameState); s != tt.wantState {
				t.Errorf("State %v, want %v", s, tt.wantState)
			}
		})
	}
}

func TestRekeyRejects(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name  string
		setup func(t *testing.T, f *kmiptest.Fixture) string
		req   func(id string) *payloads.RekeyRequestPayload
		as    string
		want  kmip.ResultReason
	}{
		{name: "not a symmetric key", setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return register(t, f, kmip.V1_4, secretData(seq(32)))
		}, want: kmip.ResultReasonIllegalOperation},
		{name: "destroyed", setup: func(t *testing.T, f *kmiptest.Fixture) string {
			id := create(t, f, kmip.V1_4)
			ok[*payloads.DestroyResponsePayload](t, do(t, f, kmip.V1_4, destroy(id)))
			return id
		}, want: kmip.ResultReasonPermissionDenied},
		{name: "archived", setup: func(t *testing.T, f *kmiptest.Fixture) string {
			id := create(t, f, kmip.V1_4)
			ok[*payloads.ArchiveResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ArchiveRequestPayload{UniqueIdentifier: id}))
			return id
		}, want: kmip.ResultReasonObjectArchived},
		{name: "other tenant", as: bob, want: kmip.ResultReasonItemNotFound},
		{name: "offset with a date", req: func(id string) *payloads.RekeyRequestPayload {
			return rekey(id, &hour, attr(kmip.AttributeNameDeactivationDate, hourLater()))
		}, want: kmip.ResultReasonInvalidMessage},
		{name: "offset without activation date", setup: func(t *testing.T, f *kmiptest.Fixture) string {
			return create(t, f, kmip.V1_4, attr(kmip.AttributeNameDeactivationDate, hourLater()))
		}, req: func(id string) *payloads.RekeyRequestPayload { return rekey(id, &hour) }, want: kmip.ResultReasonIllegalOperation},
		{name: "invalid length", req: func(id string) *payloads.RekeyRequestPayload {
			return rekey(id, nil, attr(kmip.AttributeNameCryptographicLength, int32(100)))
		}, want: kmip.ResultReasonInvalidField},
		{name: "server attribute", req: func(id string) *payloads.RekeyRequestPayload {
			return rekey(id, nil, attr(kmip.AttributeNameState, kmip.StateActive))
		}, want: kmip.ResultReasonPermissionDenied},
		{name: "missing", req: func(string) *payloads.RekeyRequestPayload { return rekey("nope", nil) }, want: kmip.ResultReasonItemNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			var id string
			if tt.setup != nil {
				id = tt.setup(t, f)
			} else {
				id = create(t, f, kmip.V1_4)
			}
			req := rekey(id, nil)
			if tt.req != nil {
				req = tt.req(id)
			}
			as := alice
			if tt.as != "" {
				as = tt.as
			}
			applied := f.Replicator.Applied()
			fails(t, exec(t, f, as, kmip.V1_4, req)[0], tt.want)
			if tt.name != "offset without activation date" && f.Replicator.Applied() != applied {
				t.Error("a request refused up front reached the log")
			}
		})
	}
}

// TestRekeyNegativeOffset hands the service a value TTLV cannot carry.
func TestRekeyNegativeOffset(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	minus := -time.Second
	resp, _ := f.ExecuteDirect(t, alice, ptrTo(kmip.NewRequestMessage(kmip.V1_4, rekey(id, &minus))))
	fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidField)
}

func ptrTo[T any](v T) *T { return &v }

// isTime reports whether an attribute value is the instant want.
func isTime(v any, want time.Time) bool {
	got, isT := v.(time.Time)
	return isT && got.Equal(want)
}

// TestRekeyTemplate: single-instance attributes of the request replace the
// copied ones, further instances are added, and what the server derives from
// the new material stays the server's.
func TestRekeyTemplate(t *testing.T) {
	f := kmiptest.New(t)
	old := create(t, f, kmip.V1_4, attr(kmip.AttributeNameObjectGroup, "g1"))
	repl := rekeyed(t, f, kmip.V1_4, rekey(old, nil,
		attr(kmip.AttributeNameCryptographicLength, int32(128)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageDecrypt),
		attr(kmip.AttributeNameObjectGroup, "g2"),
		attr(kmip.AttributeNameFresh, false),
	))
	ra := getAttrs(t, f, kmip.V1_4, repl)
	if n := len(keyBytes(t, f, kmip.V1_4, repl)); n != 16 {
		t.Errorf("replacement has %d bytes of material, want 16", n)
	}
	if m, _ := value(ra, kmip.AttributeNameCryptographicUsageMask); m != kmip.CryptographicUsageDecrypt {
		t.Errorf("usage mask %v", m)
	}
	var groups []any
	for _, a := range ra {
		if a.AttributeName == kmip.AttributeNameObjectGroup {
			groups = append(groups, a.AttributeValue)
		}
	}
	if !slices.Equal(groups, []any{"g1", "g2"}) {
		t.Errorf("groups %v", groups)
	}
	if v, _ := value(ra, kmip.AttributeNameFresh); v != true {
		t.Errorf("Fresh %v: a new key is fresh", v)
	}
	if n := slices.Index(names(ra), kmip.AttributeNameDigest); n < 0 || slices.Index(names(ra)[n+1:], kmip.AttributeNameDigest) >= 0 {
		t.Errorf("want one Digest, of the new material: %v", names(ra))
	}
}
