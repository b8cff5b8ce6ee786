package kmip_test

import (
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// tagIntroduced lists tags a response may carry and the first version that
// defines them anywhere (KMIP 1.1–1.4 §6, §7 and §2.1 "new in" notes).
var tagIntroduced = map[int]kmip.ProtocolVersion{
	kmip.TagExtensionInformation:        kmip.V1_1,
	kmip.TagNonce:                       kmip.V1_2,
	kmip.TagAttestationType:             kmip.V1_2,
	kmip.TagAttestationCapableIndicator: kmip.V1_2,
	kmip.TagOffsetItems:                 kmip.V1_3,
	kmip.TagLocatedItems:                kmip.V1_3,
	kmip.TagRNGParameters:               kmip.V1_3,
	kmip.TagProfileInformation:          kmip.V1_3,
	kmip.TagValidationInformation:       kmip.V1_3,
	kmip.TagCapabilityInformation:       kmip.V1_3,
	kmip.TagClientRegistrationMethod:    kmip.V1_3,
	kmip.TagClientCorrelationValue:      kmip.V1_4,
	kmip.TagServerCorrelationValue:      kmip.V1_4,
	kmip.TagKeyWrapType:                 kmip.V1_4,
}

// walk visits every item of a generically decoded message, outermost
// first; visit returns false to skip an item's children.
func walk(v ttlv.Value, visit func(v ttlv.Value) bool) {
	if !visit(v) {
		return
	}
	if s, isStruct := v.Value.(ttlv.Struct); isStruct {
		for _, child := range s {
			walk(child, visit)
		}
	}
}

// attributeParts splits a generic Attribute structure.
func attributeParts(v ttlv.Value) (name string, value ttlv.Value) {
	for _, c := range v.Value.(ttlv.Struct) {
		switch c.Tag {
		case kmip.TagAttributeName:
			name, _ = c.Value.(string)
		case kmip.TagAttributeValue:
			value = c
		}
	}
	return name, value
}

func decodeGeneric(t *testing.T, b []byte) ttlv.Value {
	t.Helper()
	var root ttlv.Value
	if err := ttlv.UnmarshalTTLV(b, &root); err != nil {
		t.Fatalf("response does not decode generically: %v", err)
	}
	return root
}

// checkDefinedIn decodes a response generically and reports every
// attribute name and field that KMIP v does not define.
func checkDefinedIn(t *testing.T, b []byte, v kmip.ProtocolVersion) (attrs int) {
	t.Helper()
	walk(decodeGeneric(t, b), func(item ttlv.Value) bool {
		if since, isNew := tagIntroduced[item.Tag]; isNew && compareVersions(v, since) < 0 {
			t.Errorf("KMIP %s response carries %s (new in %s)", v, ttlv.TagString(item.Tag), since)
		}
		if item.Tag == kmip.TagAttributeName {
			// Get Attribute List names attributes outside a structure.
			if name, _ := item.Value.(string); !definedIn(kmip.AttributeName(name), v) {
				t.Errorf("KMIP %s response names attribute %q", v, name)
			}
		}
		if item.Tag != kmip.TagAttribute {
			return true
		}
		attrs++
		name, val := attributeParts(item)
		if !definedIn(kmip.AttributeName(name), v) {
			t.Errorf("KMIP %s response carries attribute %q", v, name)
		}
		if kmip.AttributeName(name).IsCustom() {
			return false // the client's own value, any tags
		}
		if name == string(kmip.AttributeNameDigest) && v == kmip.V1_0 {
			for _, c := range val.Value.(ttlv.Struct) {
				if c.Tag == kmip.TagKeyFormatType {
					t.Errorf("KMIP 1.0 Digest carries a Key Format Type")
				}
			}
		}
		return true
	})
	return attrs
}

// digestFields returns the field tags of every Digest attribute value.
func digestFields(t *testing.T, b []byte) [][]int {
	t.Helper()
	var out [][]int
	walk(decodeGeneric(t, b), func(item ttlv.Value) bool {
		if item.Tag != kmip.TagAttribute {
			return true
		}
		if name, val := attributeParts(item); name == string(kmip.AttributeNameDigest) {
			var tags []int
			for _, c := range val.Value.(ttlv.Struct) {
				tags = append(tags, c.Tag)
			}
			out = append(out, tags)
		}
		return false
	})
	return out
}

func TestDigestKeyFormatTypeByVersion(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_0)
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			resp, b := f.Execute(t, alice, kmip.NewRequestMessage(v, &payloads.GetAttributesRequestPayload{
				UniqueIdentifier: id, AttributeName: []kmip.AttributeName{kmip.AttributeNameDigest},
			}))
			ok[*payloads.GetAttributesResponsePayload](t, resp.BatchItem[0])
			digests := digestFields(t, b)
			if len(digests) != 1 {
				t.Fatalf("found %d Digest structures", len(digests))
			}
			want := []int{kmip.TagHashingAlgorithm, kmip.TagDigestValue, kmip.TagKeyFormatType}
			if v == kmip.V1_0 {
				want = want[:2]
			}
			if got := digests[0]; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || (len(want) == 3 && got[2] != want[2]) {
				t.Errorf("Digest fields %v, want %v", tagNames(got), tagNames(want))
			}
		})
	}
}

func tagNames(tags []int) []string {
	var out []string
	for _, tg := range tags {
		out = append(out, ttlv.TagString(tg))
	}
	return out
}

// session is what a typical client does in version v; every response is
// walked for fields and attributes v does not define.
func session(v kmip.ProtocolVersion) [][]kmip.OperationPayload {
	extra := []kmip.Attribute{
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "inv-" + v.String(), NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameObjectGroup, "invariant"),
		attr("x-Vendor", "VMware"),
	}
	if v == kmip.V1_4 {
		extra = append(extra, attr(kmip.AttributeNameSensitive, false), attr(kmip.AttributeNameComment, "c"))
	}
	all := &payloads.GetAttributesRequestPayload{}
	list := &payloads.GetAttributeListRequestPayload{}
	first := []kmip.OperationPayload{
		&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations, kmip.QueryFunctionObjects, kmip.QueryFunctionServerInformation}},
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256, extra...)},
		all, list,
		&payloads.ActivateRequestPayload{}, &payloads.GetRequestPayload{}, all,
		&payloads.RevokeRequestPayload{RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise}},
		all, &payloads.DestroyRequestPayload{}, all, list,
	}
	if v != kmip.V1_0 {
		first = append([]kmip.OperationPayload{&payloads.DiscoverVersionsRequestPayload{}}, first...)
	}
	out := [][]kmip.OperationPayload{first}
	for _, obj := range []kmip.Object{
		rawKey(kmip.CryptographicAlgorithmAES, 128, seq(16)),
		transparentKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)),
		secretData(seq(96)),
		&kmip.OpaqueObject{OpaqueDataType: 0x80000000, OpaqueDataValue: seq(10)},
	} {
		out = append(out, []kmip.OperationPayload{
			&payloads.RegisterRequestPayload{ObjectType: obj.ObjectType(), Object: obj, TemplateAttribute: template(extra...)},
			&payloads.GetRequestPayload{}, all, list,
		})
	}
	out = append(out, []kmip.OperationPayload{
		&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "invariant")}},
		all,
		&payloads.LocateRequestPayload{MaximumItems: 2},
		&payloads.GetRequestPayload{UniqueIdentifier: "missing"},
	})
	return out
}

func TestResponsesOnlyCarryVersionFields(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			seen := 0
			for i, batch := range session(v) {
				req := kmip.NewRequestMessage(v, batch...)
				req.Header.BatchErrorContinuationOption = kmip.BatchErrorContinuationOptionContinue
				resp, b := f.Execute(t, alice, req)
				if resp.Header.ProtocolVersion != v {
					t.Errorf("batch %d answered in %s", i, resp.Header.ProtocolVersion)
				}
				for j, bi := range resp.BatchItem {
					last := i == len(session(v))-1 && j == len(resp.BatchItem)-1
					if bi.ResultStatus != kmip.ResultStatusSuccess && !last {
						t.Errorf("batch %d item %d (%s) failed: %s %q", i, j, ttlv.EnumStr(bi.Operation), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
					}
				}
				seen += checkDefinedIn(t, b, v)
			}
			if seen < 50 {
				t.Errorf("the session returned only %d attributes; the walk is not looking", seen)
			}
		})
	}
}
