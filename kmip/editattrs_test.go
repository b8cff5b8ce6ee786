package kmip_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func custom(v any) ttlv.Value { return ttlv.Value{Tag: kmip.TagAttributeValue, Value: v} }

func TestAddAttribute(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_1)
	add := func(a kmip.Attribute) kmip.ResponseBatchItem {
		return do(t, f, kmip.V1_1, &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: a})
	}
	// vSphere tags keys with x-Vendor, x-Product and x-Product_Version.
	for _, name := range []kmip.AttributeName{"x-Vendor", "x-Product", "x-Product_Version"} {
		resp := ok[*payloads.AddAttributeResponsePayload](t, add(attr(name, custom("VMware"))))
		if resp.UniqueIdentifier != id || resp.Attribute.AttributeName != name || resp.Attribute.AttributeIndex != nil {
			t.Errorf("Add Attribute answered %+v", resp)
		}
	}
	second := ok[*payloads.AddAttributeResponsePayload](t, add(attr("x-Vendor", custom("again"))))
	if second.Attribute.AttributeIndex == nil || *second.Attribute.AttributeIndex != 1 {
		t.Errorf("second x-Vendor got index %v, want 1", second.Attribute.AttributeIndex)
	}
	got := getAttrs(t, f, kmip.V1_1, id, "x-Product_Version", "x-Vendor")
	if len(got) != 3 || customValue(t, got[0].AttributeValue) != "VMware" {
		t.Errorf("Get Attributes after Add = %+v", got)
	}
	t.Run("single-instance already present", func(t *testing.T) {
		ok[*payloads.AddAttributeResponsePayload](t, add(attr(kmip.AttributeNameContactInformation, "a")))
		fails(t, add(attr(kmip.AttributeNameContactInformation, "b")), kmip.ResultReasonIllegalOperation)
	})
	t.Run("malformed", func(t *testing.T) {
		fails(t, add(attr("x-big", custom(strings.Repeat("x", 70<<10)))), kmip.ResultReasonInvalidField)
		bi := f.Service.Execute(t.Context(), alice, &kmip.RequestMessage{
			Header:    kmip.RequestHeader{ProtocolVersion: kmip.V1_1, BatchCount: 1},
			BatchItem: []kmip.RequestBatchItem{{Operation: kmip.OperationAddAttribute, RequestPayload: &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr("x-nil", nil)}}},
		})
		fails(t, kmiptest.DecodeResponse(t, bi).BatchItem[0], kmip.ResultReasonInvalidField)
	})
}

// TestAttributeEditRules walks the per-attribute rules of KMIP 1.4 §3: who
// may add, modify and delete each attribute after creation.
func TestAttributeEditRules(t *testing.T) {
	const (
		yes    = kmip.ResultReason(0)
		denied = kmip.ResultReasonPermissionDenied
		twice  = kmip.ResultReasonIllegalOperation // single instance already there
	)
	future := kmiptest.Epoch.Add(1000 * time.Hour)
	name := kmip.Name{NameValue: "n", NameType: kmip.NameTypeUninterpretedTextString}
	link := kmip.Link{LinkType: kmip.LinkTypeParentLink, LinkedObjectIdentifier: "other"}
	asi := kmip.ApplicationSpecificInformation{ApplicationNamespace: "ns", ApplicationData: "d"}
	limits := kmip.UsageLimits{UsageLimitsTotal: 10, UsageLimitsUnit: kmip.UsageLimitsUnitByte}
	tests := []struct {
		name               kmip.AttributeName
		value              any
		add, modify, delet kmip.ResultReason
	}{
		{kmip.AttributeNameName, name, yes, yes, yes},
		{kmip.AttributeNameCryptographicParameters, kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, yes, yes, yes},
		{kmip.AttributeNameLink, link, yes, yes, yes},
		{kmip.AttributeNameApplicationSpecificInformation, asi, yes, yes, yes},
		{kmip.AttributeNameContactInformation, "c", yes, yes, yes},
		{kmip.AttributeNameUsageLimits, limits, yes, yes, yes},
		{kmip.AttributeNameAlternativeName, kmip.AlternativeName{AlternativeNameValue: "a", AlternativeNameType: kmip.AlternativeNameTypeUninterpretedTextString}, yes, yes, yes},
		{kmip.AttributeNameDescription, "d", yes, yes, yes},
		{kmip.AttributeNameComment, "c", yes, yes, yes},
		{kmip.AttributeNamePKCS_12FriendlyName, "p", yes, yes, yes},
		{"x-mine", custom("v"), yes, yes, yes},
		// Set once by the client, then fixed.
		{kmip.AttributeNameObjectGroup, "g", yes, denied, denied},
		{kmip.AttributeNameOperationPolicyName, "default", yes, denied, denied},
		{kmip.AttributeNameKeyValueLocation, kmip.KeyValueLocation{KeyValueLocationValue: "hsm", KeyValueLocationType: kmip.KeyValueLocationTypeURI}, yes, denied, denied},
		{kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt, twice, denied, denied},
		{kmip.AttributeNameFresh, true, twice, denied, denied},
		{kmip.AttributeNameOriginalCreationDate, future, twice, denied, denied},
		{kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified}, twice, denied, denied},
		// Dates of the life cycle are modifiable but never deleted.
		{kmip.AttributeNameActivationDate, future, yes, yes, denied},
		{kmip.AttributeNameDeactivationDate, future, yes, yes, denied},
		{kmip.AttributeNameSensitive, true, twice, yes, denied},
		{kmip.AttributeNameExtractable, false, twice, yes, denied},
		// The server's.
		{kmip.AttributeNameUniqueIdentifier, "id", denied, denied, denied},
		{kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey, denied, denied, denied},
		{kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES, denied, denied, denied},
		{kmip.AttributeNameCryptographicLength, int32(256), denied, denied, denied},
		{kmip.AttributeNameLeaseTime, time.Hour, denied, denied, denied},
		{kmip.AttributeNameState, kmip.StateActive, denied, denied, denied},
		{kmip.AttributeNameInitialDate, future, denied, denied, denied},
		{kmip.AttributeNameLastChangeDate, future, denied, denied, denied},
		{kmip.AttributeNameAlwaysSensitive, true, denied, denied, denied},
		{"y-server", custom("v"), denied, denied, denied},
	}
	f := kmiptest.New(t)
	for _, tt := range tests {
		t.Run(string(tt.name), func(t *testing.T) {
			a := attr(tt.name, tt.value)
			check := func(bi kmip.ResponseBatchItem, want kmip.ResultReason) {
				t.Helper()
				if want == yes {
					if bi.ResultStatus != kmip.ResultStatusSuccess {
						t.Errorf("%s failed: %s %q", ttlv.EnumStr(bi.Operation), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
					}
					return
				}
				fails(t, bi, want)
			}
			bare := create(t, f, kmip.V1_4)
			check(do(t, f, kmip.V1_4, &payloads.AddAttributeRequestPayload{UniqueIdentifier: bare, Attribute: a}), tt.add)
			// Modify and delete an instance the object has: given at
			// creation when the client may, else set by the server.
			var extra []kmip.Attribute
			if tt.add == yes {
				extra = append(extra, a)
			}
			id := create(t, f, kmip.V1_4, extra...)
			check(do(t, f, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: a}), tt.modify)
			check(do(t, f, kmip.V1_4, &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: tt.name}), tt.delet)
		})
	}
}

// TestUndefinedAttributesRefused checks version gating of requests: an
// attribute the request's version does not define is Invalid Field on
// Create, Register, Add, Modify and Delete Attribute.
func TestUndefinedAttributesRefused(t *testing.T) {
	values := map[kmip.AttributeName]any{
		kmip.AttributeNameFresh:                  true,
		kmip.AttributeNameAlternativeName:        kmip.AlternativeName{AlternativeNameValue: "a", AlternativeNameType: kmip.AlternativeNameTypeUninterpretedTextString},
		kmip.AttributeNameOriginalCreationDate:   kmiptest.Epoch,
		kmip.AttributeNameRandomNumberGenerator:  kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified},
		kmip.AttributeNameDescription:            "d",
		kmip.AttributeNameSensitive:              true,
		kmip.AttributeNameX509CertificateSubject: kmip.X_509CertificateSubject{SubjectDistinguishedName: []byte("CN=x")},
		"Not An Attribute":                       custom("v"),
	}
	f := kmiptest.New(t)
	for _, v := range allVersions {
		id := create(t, f, v)
		for name, val := range values {
			if definedIn(name, v) {
				continue
			}
			t.Run(vname(v)+"/"+string(name), func(t *testing.T) {
				a := attr(name, val)
				for _, pl := range []kmip.OperationPayload{
					&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128, a)},
					&payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSecretData, Object: secretData(seq(32)), TemplateAttribute: template(a)},
					&payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: a},
					&payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: a},
					&payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: name},
				} {
					fails(t, do(t, f, v, pl), kmip.ResultReasonInvalidField)
				}
			})
		}
	}
}

// TestDateRulesFollowStates checks the table's states against the state
// machine: a client adds or modifies a life-cycle date only in the states
// the rules name.
func TestDateRulesFollowStates(t *testing.T) {
	order, rules := kmsdkmip.AttrRules()
	far := kmiptest.Epoch.Add(5000 * time.Hour)
	f := kmiptest.New(t)
	for _, name := range order {
		r := rules[name]
		if len(r.States) == 0 {
			continue
		}
		for _, st := range []kmip.State{kmip.StatePreActive, kmip.StateActive, kmip.StateDeactivated} {
			t.Run(string(name)+"/"+ttlv.EnumStr(st), func(t *testing.T) {
				id := create(t, f, kmip.V1_4)
				if st != kmip.StatePreActive {
					ok[*payloads.ActivateResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ActivateRequestPayload{UniqueIdentifier: id}))
				}
				if st == kmip.StateDeactivated {
					ok[*payloads.RevokeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.RevokeRequestPayload{UniqueIdentifier: id,
						RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation}}))
				}
				if got := state(t, f, kmip.V1_4, id); got != st {
					t.Fatalf("object is %s, want %s", ttlv.EnumStr(got), ttlv.EnumStr(st))
				}
				var pl kmip.OperationPayload = &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(name, far)}
				if _, present := value(getAttrs(t, f, kmip.V1_4, id, name), name); present {
					pl = &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(name, far)}
				}
				bi := do(t, f, kmip.V1_4, pl)
				if slices.Contains(r.States, st) {
					if bi.ResultStatus != kmip.ResultStatusSuccess {
						t.Errorf("%s refused in %s: %s %q", ttlv.EnumStr(bi.Operation), ttlv.EnumStr(st), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
					}
				} else {
					fails(t, bi, kmip.ResultReasonPermissionDenied)
				}
			})
		}
	}
}

func TestModifyAttribute(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4, attr(kmip.AttributeNameContactInformation, "Joe"), attr("x-ID", custom("one")), attr("x-ID", custom("two")))
	modify := func(a kmip.Attribute) kmip.ResponseBatchItem {
		return do(t, f, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: a})
	}
	zero, one := int32(0), int32(1)
	// TC-171-11: an Attribute Index of 0 in the request is not echoed.
	resp := ok[*payloads.ModifyAttributeResponsePayload](t, modify(kmip.Attribute{AttributeName: kmip.AttributeNameContactInformation, AttributeIndex: &zero, AttributeValue: "Ann"}))
	if resp.Attribute.AttributeIndex != nil || resp.Attribute.AttributeValue != "Ann" {
		t.Errorf("Modify Attribute answered %+v", resp.Attribute)
	}
	if v, _ := value(getAttrs(t, f, kmip.V1_4, id, kmip.AttributeNameContactInformation), kmip.AttributeNameContactInformation); v != "Ann" {
		t.Errorf("Contact Information = %v, want Ann", v)
	}
	resp = ok[*payloads.ModifyAttributeResponsePayload](t, modify(kmip.Attribute{AttributeName: "x-ID", AttributeIndex: &one, AttributeValue: custom("TWO")}))
	if resp.Attribute.AttributeIndex == nil || *resp.Attribute.AttributeIndex != 1 {
		t.Errorf("Modify Attribute of index 1 answered index %v", resp.Attribute.AttributeIndex)
	}
	ids := getAttrs(t, f, kmip.V1_4, id, "x-ID")
	if len(ids) != 2 || customValue(t, ids[0].AttributeValue) != "one" || customValue(t, ids[1].AttributeValue) != "TWO" {
		t.Errorf("x-ID after modifying index 1 = %+v", ids)
	}

	t.Run("missing attribute or index", func(t *testing.T) {
		fails(t, modify(attr(kmip.AttributeNameComment, "c")), kmip.ResultReasonItemNotFound)
		five, minus := int32(5), int32(-1)
		fails(t, modify(kmip.Attribute{AttributeName: "x-ID", AttributeIndex: &five, AttributeValue: custom("x")}), kmip.ResultReasonIndexOutofBounds)
		fails(t, modify(kmip.Attribute{AttributeName: "x-ID", AttributeIndex: &minus, AttributeValue: custom("x")}), kmip.ResultReasonInvalidField)
	})
	t.Run("Activation Date only while Pre-Active", func(t *testing.T) {
		future := kmiptest.Epoch.Add(48 * time.Hour)
		ok[*payloads.AddAttributeResponsePayload](t, do(t, f, kmip.V1_4, &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameActivationDate, future)}))
		ok[*payloads.ModifyAttributeResponsePayload](t, modify(attr(kmip.AttributeNameActivationDate, future.Add(time.Hour))))
		ok[*payloads.ActivateResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ActivateRequestPayload{UniqueIdentifier: id}))
		fails(t, modify(attr(kmip.AttributeNameActivationDate, future)), kmip.ResultReasonPermissionDenied)
	})
	t.Run("one-way flags", func(t *testing.T) {
		ok[*payloads.ModifyAttributeResponsePayload](t, modify(attr(kmip.AttributeNameSensitive, true)))
		fails(t, modify(attr(kmip.AttributeNameSensitive, false)), kmip.ResultReasonPermissionDenied)
		ok[*payloads.ModifyAttributeResponsePayload](t, modify(attr(kmip.AttributeNameExtractable, false)))
		fails(t, modify(attr(kmip.AttributeNameExtractable, true)), kmip.ResultReasonPermissionDenied)
		fails(t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonNotExtractable, kmip.ResultReasonPermissionDenied)
	})
	t.Run("other tenant", func(t *testing.T) {
		bi := exec(t, f, bob, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "Eve")})[0]
		fails(t, bi, kmip.ResultReasonItemNotFound)
	})
}

// TestUsageLimitsCount checks that the Usage Limits Count is the server's
// (KMIP 1.4 §3.21): set to the total whatever the client sends.
func TestUsageLimitsCount(t *testing.T) {
	f := kmiptest.New(t)
	three := int64(3)
	given := kmip.UsageLimits{UsageLimitsTotal: 1000, UsageLimitsCount: &three, UsageLimitsUnit: kmip.UsageLimitsUnitByte}
	count := func(id string) int64 {
		t.Helper()
		v, _ := value(getAttrs(t, f, kmip.V1_0, id, kmip.AttributeNameUsageLimits), kmip.AttributeNameUsageLimits)
		ul, isUL := v.(kmip.UsageLimits)
		if !isUL || ul.UsageLimitsCount == nil {
			t.Fatalf("Usage Limits = %#v", v)
		}
		return *ul.UsageLimitsCount
	}
	created := create(t, f, kmip.V1_0, attr(kmip.AttributeNameUsageLimits, given))
	if c := count(created); c != 1000 {
		t.Errorf("count after Create = %d, want the total", c)
	}
	// TC-51-10: Add Attribute answers with the count the server set.
	id := create(t, f, kmip.V1_0)
	resp := ok[*payloads.AddAttributeResponsePayload](t, do(t, f, kmip.V1_0, &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameUsageLimits, given)}))
	if ul := resp.Attribute.AttributeValue.(kmip.UsageLimits); ul.UsageLimitsCount == nil || *ul.UsageLimitsCount != 1000 {
		t.Errorf("Add Attribute answered %+v", ul)
	}
	given.UsageLimitsTotal = 500
	ok[*payloads.ModifyAttributeResponsePayload](t, do(t, f, kmip.V1_0, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameUsageLimits, given)}))
	if c := count(id); c != 500 {
		t.Errorf("count after Modify = %d, want the new total", c)
	}
	for _, bad := range []kmip.UsageLimits{{UsageLimitsTotal: 0, UsageLimitsUnit: kmip.UsageLimitsUnitByte}, {UsageLimitsTotal: 5}} {
		fails(t, do(t, f, kmip.V1_0, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameUsageLimits, bad)}), kmip.ResultReasonInvalidField)
	}
	// Once some usage was allocated, the limits are fixed.
	ok[*payloads.ActivateResponsePayload](t, do(t, f, kmip.V1_0, activate(id)))
	ok[*payloads.GetUsageAllocationResponsePayload](t, do(t, f, kmip.V1_0, &payloads.GetUsageAllocationRequestPayload{UniqueIdentifier: id, UsageLimitsCount: 10}))
	fails(t, do(t, f, kmip.V1_0, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameUsageLimits, given)}), kmip.ResultReasonPermissionDenied)
	fails(t, do(t, f, kmip.V1_0, &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: kmip.AttributeNameUsageLimits}), kmip.ResultReasonPermissionDenied)
}

func TestDeleteAttribute(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2, attr("x-a", custom(int32(1))), attr("x-a", custom(int32(2))),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "one", NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "two", NameType: kmip.NameTypeUninterpretedTextString}))
	del := func(name kmip.AttributeName, index *int32) kmip.ResponseBatchItem {
		return do(t, f, kmip.V1_2, &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: name, AttributeIndex: index})
	}
	zero, minus := int32(0), int32(-1)
	resp := ok[*payloads.DeleteAttributeResponsePayload](t, del("x-a", &zero))
	if customValue(t, resp.Attribute.AttributeValue) != int32(1) || resp.Attribute.AttributeIndex != nil {
		t.Errorf("Delete Attribute returned %+v, want the deleted instance", resp.Attribute)
	}
	left := getAttrs(t, f, kmip.V1_2, id, "x-a")
	if len(left) != 1 || customValue(t, left[0].AttributeValue) != int32(2) {
		t.Errorf("x-a after delete = %+v", left)
	}
	// TC-171-11: without an index, the first instance goes.
	resp = ok[*payloads.DeleteAttributeResponsePayload](t, del(kmip.AttributeNameName, nil))
	if n, _ := resp.Attribute.AttributeValue.(kmip.Name); n.NameValue != "one" {
		t.Errorf("Delete Name returned %+v", resp.Attribute)
	}
	fails(t, del(kmip.AttributeNameContactInformation, nil), kmip.ResultReasonItemNotFound)
	fails(t, del("x-a", &minus), kmip.ResultReasonInvalidField)
	fails(t, del(kmip.AttributeNameCryptographicAlgorithm, nil), kmip.ResultReasonPermissionDenied)
}

// KMIP 1.0–1.2 templates: Create merges a named template's attributes, and
// explicit single-instance attributes win over the template's.
func TestTemplates(t *testing.T) {
	f := kmiptest.New(t)
	tplName := kmip.Name{NameValue: "tpl", NameType: kmip.NameTypeUninterpretedTextString}
	reg := do(t, f, kmip.V1_0, &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeTemplate,
		Object: &kmip.Template{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameName, tplName),
			attr(kmip.AttributeNameObjectGroup, "from-template"),
			attr(kmip.AttributeNameContactInformation, "template"),
			attr("x-ID", custom("template")),
		}},
	})
	tplID := ok[*payloads.RegisterResponsePayload](t, reg).UniqueIdentifier
	if _, has := value(getAttrs(t, f, kmip.V1_0, tplID), kmip.AttributeNameState); has {
		t.Error("a template has a State")
	}
	id := createAs(t, f, alice, kmip.V1_0, kmip.TemplateAttribute{
		Name: []kmip.Name{tplName},
		Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
			attr(kmip.AttributeNameCryptographicLength, int32(128)),
			attr(kmip.AttributeNameContactInformation, "explicit"),
			attr("x-ID", custom("explicit")),
		},
	})
	attrs := getAttrs(t, f, kmip.V1_0, id)
	if v, _ := value(attrs, kmip.AttributeNameContactInformation); v != "explicit" {
		t.Errorf("Contact Information = %v, want the explicit value", v)
	}
	if v, _ := value(attrs, kmip.AttributeNameObjectGroup); v != "from-template" {
		t.Errorf("Object Group = %v, want the template's", v)
	}
	if v, _ := value(attrs, kmip.AttributeNameName); v != nil {
		t.Errorf("the template's Name was copied to the key: %v", v)
	}
	xs := getAttrs(t, f, kmip.V1_0, id, "x-ID")
	if len(xs) != 2 || customValue(t, xs[0].AttributeValue) != "template" || customValue(t, xs[1].AttributeValue) != "explicit" {
		t.Errorf("x-ID = %+v, want the template's then the explicit instance", xs)
	}

	fails(t, do(t, f, kmip.V1_0, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: kmip.TemplateAttribute{Name: []kmip.Name{{NameValue: "missing"}}}}), kmip.ResultReasonItemNotFound)
	ok[*payloads.DestroyResponsePayload](t, do(t, f, kmip.V1_0, &payloads.DestroyRequestPayload{UniqueIdentifier: tplID}))
	fails(t, do(t, f, kmip.V1_0, &payloads.GetAttributesRequestPayload{UniqueIdentifier: tplID}), kmip.ResultReasonItemNotFound)
}
