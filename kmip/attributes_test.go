package kmip_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func TestGetAttributesRequestedOrder(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4,
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "first", NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "second", NameType: kmip.NameTypeUninterpretedTextString}),
		attr("x-Product_Version", "7.0"),
	)
	asked := []kmip.AttributeName{
		"x-Product_Version", kmip.AttributeNameState, kmip.AttributeNameName,
		kmip.AttributeNameCryptographicLength, kmip.AttributeNameObjectType, "x-absent",
	}
	got := getAttrs(t, f, kmip.V1_4, id, asked...)
	want := []kmip.AttributeName{
		"x-Product_Version", kmip.AttributeNameState, kmip.AttributeNameName, kmip.AttributeNameName,
		kmip.AttributeNameCryptographicLength, kmip.AttributeNameObjectType,
	}
	if !slices.Equal(names(got), want) {
		t.Fatalf("names = %v, want %v", names(got), want)
	}
	if n := got[2].AttributeValue.(kmip.Name).NameValue; n != "first" {
		t.Errorf("first Name instance is %q", n)
	}
	if n := got[3].AttributeValue.(kmip.Name).NameValue; n != "second" {
		t.Errorf("second Name instance is %q", n)
	}
	if idx := got[3].AttributeIndex; idx == nil || *idx != 1 {
		t.Errorf("second Name has index %v, want 1", idx)
	}
	if idx := got[2].AttributeIndex; idx != nil && *idx != 0 {
		t.Errorf("first Name has index %d, want 0 or none", *idx)
	}
}

func TestGetAttributesAll(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4,
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "b", NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameObjectGroup, "g"),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "a", NameType: kmip.NameTypeUninterpretedTextString}),
	)
	first := getAttrs(t, f, kmip.V1_4, id)
	if len(first) < 4 || first[0].AttributeName != kmip.AttributeNameUniqueIdentifier || first[0].AttributeValue != id {
		t.Fatalf("listing does not start with the Unique Identifier: %v", names(first))
	}
	if first[1].AttributeName != kmip.AttributeNameObjectType {
		t.Errorf("second attribute is %q, want Object Type", first[1].AttributeName)
	}
	// Instances of one attribute are adjacent and in index order; the
	// listing is the same on every call.
	var nameVals []string
	seen := map[kmip.AttributeName]int{}
	for i, a := range first {
		if j, dup := seen[a.AttributeName]; dup && j != i-1 {
			t.Errorf("%q instances are not adjacent: %v", a.AttributeName, names(first))
		}
		seen[a.AttributeName] = i
		if a.AttributeName == kmip.AttributeNameName {
			nameVals = append(nameVals, a.AttributeValue.(kmip.Name).NameValue)
		}
	}
	if !slices.Equal(nameVals, []string{"b", "a"}) {
		t.Errorf("Name instances %v, want [b a]", nameVals)
	}
	for range 3 {
		if again := getAttrs(t, f, kmip.V1_4, id); !slices.Equal(names(again), names(first)) {
			t.Fatalf("listing changed between calls: %v then %v", names(first), names(again))
		}
	}
	list := ok[*payloads.GetAttributeListResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetAttributeListRequestPayload{UniqueIdentifier: id}))
	if want := slices.Compact(names(first)); !slices.Equal(list.AttributeName, want) {
		t.Errorf("Get Attribute List = %v, want %v", list.AttributeName, want)
	}
}

func TestStateFollowsDates(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2,
		attr(kmip.AttributeNameActivationDate, hourLater()),
		attr(kmip.AttributeNameDeactivationDate, kmiptest.Epoch.Add(3*time.Hour)),
	)
	steps := []struct {
		at   time.Duration
		want kmip.State
	}{
		{0, kmip.StatePreActive},
		{time.Hour - time.Second, kmip.StatePreActive},
		{time.Hour, kmip.StateActive},
		{2 * time.Hour, kmip.StateActive},
		{3 * time.Hour, kmip.StateDeactivated},
	}
	for _, s := range steps {
		f.Clock.Set(clockAt(s.at))
		if got := state(t, f, kmip.V1_2, id); got != s.want {
			t.Errorf("at +%v: State %v, want %v", s.at, got, s.want)
		}
		located := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_2, &payloads.LocateRequestPayload{
			Attribute: []kmip.Attribute{attr(kmip.AttributeNameState, s.want)},
		}))
		if !slices.Equal(located.UniqueIdentifier, []string{id}) {
			t.Errorf("at +%v: Locate State %v found %v", s.at, s.want, located.UniqueIdentifier)
		}
	}
}

func clockAt(d time.Duration) time.Time { return kmiptest.Epoch.Add(d) }

func TestActivateAfterActivationDatePassed(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2, attr(kmip.AttributeNameActivationDate, hourLater()))
	f.Clock.Advance(2 * time.Hour)
	// The object is already Active by date; KMIP 1.4 §4.19 only activates
	// Pre-Active objects.
	fails(t, do(t, f, kmip.V1_2, &payloads.ActivateRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonPermissionDenied)
}

// introduced lists, per attribute this server may return, the first KMIP
// version that defines it (KMIP 1.1–1.4 §3, "new in" notes). It is kept
// independent of the server's own table on purpose.
var introduced = map[kmip.AttributeName]kmip.ProtocolVersion{
	kmip.AttributeNameCertificateLength:         kmip.V1_1,
	kmip.AttributeNameFresh:                     kmip.V1_1,
	kmip.AttributeNameX509CertificateIdentifier: kmip.V1_1,
	kmip.AttributeNameX509CertificateSubject:    kmip.V1_1,
	kmip.AttributeNameX509CertificateIssuer:     kmip.V1_1,
	kmip.AttributeNameDigitalSignatureAlgorithm: kmip.V1_1,
	kmip.AttributeNameAlternativeName:           kmip.V1_2,
	kmip.AttributeNameKeyValuePresent:           kmip.V1_2,
	kmip.AttributeNameKeyValueLocation:          kmip.V1_2,
	kmip.AttributeNameOriginalCreationDate:      kmip.V1_2,
	kmip.AttributeNameRandomNumberGenerator:     kmip.V1_3,
	kmip.AttributeNamePKCS_12FriendlyName:       kmip.V1_4,
	kmip.AttributeNameDescription:               kmip.V1_4,
	kmip.AttributeNameComment:                   kmip.V1_4,
	kmip.AttributeNameSensitive:                 kmip.V1_4,
	kmip.AttributeNameAlwaysSensitive:           kmip.V1_4,
	kmip.AttributeNameExtractable:               kmip.V1_4,
	kmip.AttributeNameNeverExtractable:          kmip.V1_4,
}

// definedIn reports whether KMIP v defines the attribute name.
func definedIn(name kmip.AttributeName, v kmip.ProtocolVersion) bool {
	if name.IsCustom() {
		return true
	}
	if !slices.Contains(kmip.AllAttributeNames, name) {
		return false
	}
	since, isNew := introduced[name]
	return !isNew || compareVersions(v, since) >= 0
}

func compareVersions(a, b kmip.ProtocolVersion) int {
	if a.ProtocolVersionMajor != b.ProtocolVersionMajor {
		return int(a.ProtocolVersionMajor - b.ProtocolVersionMajor)
	}
	return int(a.ProtocolVersionMinor - b.ProtocolVersionMinor)
}

func TestGetAttributesVersionGating(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4, attr(kmip.AttributeNameSensitive, true), attr(kmip.AttributeNameDescription, "d"))
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			all := getAttrs(t, f, v, id)
			for _, a := range all {
				if !definedIn(a.AttributeName, v) {
					t.Errorf("KMIP %s response carries %q", v, a.AttributeName)
				}
			}
			// Asking by name for an attribute the version does not define
			// returns nothing rather than the attribute.
			var later []kmip.AttributeName
			for name, since := range introduced {
				if compareVersions(v, since) < 0 {
					later = append(later, name)
				}
			}
			if got := getAttrs(t, f, v, id, later...); len(later) > 0 && len(got) != 0 {
				t.Errorf("asked by name, KMIP %s got %v", v, names(got))
			}
			list := ok[*payloads.GetAttributeListResponsePayload](t, do(t, f, v, &payloads.GetAttributeListRequestPayload{UniqueIdentifier: id}))
			for _, name := range list.AttributeName {
				if !definedIn(name, v) {
					t.Errorf("KMIP %s attribute list names %q", v, name)
				}
			}
			if v == kmip.V1_4 {
				for _, name := range []kmip.AttributeName{kmip.AttributeNameFresh, kmip.AttributeNameSensitive, kmip.AttributeNameExtractable, kmip.AttributeNameOriginalCreationDate, kmip.AttributeNameDescription} {
					if _, found := value(all, name); !found {
						t.Errorf("KMIP 1.4 listing lacks %q", name)
					}
				}
			}
		})
	}
}
