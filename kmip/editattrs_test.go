package kmip_test

import (
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

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
		if resp.UniqueIdentifier != id || resp.Attribute.AttributeName != name {
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

	t.Run("multi-instance standard attribute", func(t *testing.T) {
		ok[*payloads.AddAttributeResponsePayload](t, add(attr(kmip.AttributeNameObjectGroup, "g1")))
		ok[*payloads.AddAttributeResponsePayload](t, add(attr(kmip.AttributeNameObjectGroup, "g2")))
	})
	t.Run("single-instance already present", func(t *testing.T) {
		ok[*payloads.AddAttributeResponsePayload](t, add(attr(kmip.AttributeNameContactInformation, "a")))
		fails(t, add(attr(kmip.AttributeNameContactInformation, "b")), kmip.ResultReasonIllegalOperation)
	})
	t.Run("refused", func(t *testing.T) {
		fails(t, add(attr(kmip.AttributeNameState, kmip.StateActive)), kmip.ResultReasonPermissionDenied)
		fails(t, add(attr(kmip.AttributeNameCryptographicLength, int32(128))), kmip.ResultReasonPermissionDenied)
		fails(t, add(attr("y-server", custom("x"))), kmip.ResultReasonPermissionDenied)
		fails(t, do(t, f, kmip.V1_0, &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameComment, "c")}),
			kmip.ResultReasonInvalidField)
	})
}

func TestModifyAttribute(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4, attr(kmip.AttributeNameContactInformation, "Joe"), attr("x-ID", custom("one")), attr("x-ID", custom("two")))
	modify := func(a kmip.Attribute) kmip.ResponseBatchItem {
		return do(t, f, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: a})
	}
	ok[*payloads.ModifyAttributeResponsePayload](t, modify(attr(kmip.AttributeNameContactInformation, "Ann")))
	if v, _ := value(getAttrs(t, f, kmip.V1_4, id, kmip.AttributeNameContactInformation), kmip.AttributeNameContactInformation); v != "Ann" {
		t.Errorf("Contact Information = %v, want Ann", v)
	}
	one := int32(1)
	ok[*payloads.ModifyAttributeResponsePayload](t, modify(kmip.Attribute{AttributeName: "x-ID", AttributeIndex: &one, AttributeValue: custom("TWO")}))
	ids := getAttrs(t, f, kmip.V1_4, id, "x-ID")
	if len(ids) != 2 || customValue(t, ids[0].AttributeValue) != "one" || customValue(t, ids[1].AttributeValue) != "TWO" {
		t.Errorf("x-ID after modifying index 1 = %+v", ids)
	}

	t.Run("missing attribute or index", func(t *testing.T) {
		fails(t, modify(attr(kmip.AttributeNameComment, "c")), kmip.ResultReasonItemNotFound)
		five := int32(5)
		fails(t, modify(kmip.Attribute{AttributeName: "x-ID", AttributeIndex: &five, AttributeValue: custom("x")}), kmip.ResultReasonIndexOutofBounds)
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
		fails(t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonPermissionDenied)
	})
	t.Run("other tenant", func(t *testing.T) {
		bi := exec(t, f, bob, kmip.V1_4, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "Eve")})[0]
		fails(t, bi, kmip.ResultReasonItemNotFound)
	})
}

func TestDeleteAttribute(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2, attr("x-a", custom(int32(1))), attr("x-a", custom(int32(2))), attr(kmip.AttributeNameObjectGroup, "g"))
	del := func(name kmip.AttributeName, index *int32) kmip.ResponseBatchItem {
		return do(t, f, kmip.V1_2, &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: name, AttributeIndex: index})
	}
	zero := int32(0)
	resp := ok[*payloads.DeleteAttributeResponsePayload](t, del("x-a", &zero))
	if customValue(t, resp.Attribute.AttributeValue) != int32(1) {
		t.Errorf("Delete Attribute returned %+v, want the deleted instance", resp.Attribute)
	}
	left := getAttrs(t, f, kmip.V1_2, id, "x-a")
	if len(left) != 1 || customValue(t, left[0].AttributeValue) != int32(2) {
		t.Errorf("x-a after delete = %+v", left)
	}
	ok[*payloads.DeleteAttributeResponsePayload](t, del(kmip.AttributeNameObjectGroup, nil))
	fails(t, del(kmip.AttributeNameObjectGroup, nil), kmip.ResultReasonItemNotFound)
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
