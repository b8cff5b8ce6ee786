package kmip_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// Two tenants: each client certificate's identity owns its objects.
const (
	alice = "tenant-a"
	bob   = "tenant-b"
)

var allVersions = []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_1, kmip.V1_2, kmip.V1_3, kmip.V1_4}

func vname(v kmip.ProtocolVersion) string { return "v" + v.String() }

func attr(name kmip.AttributeName, value any) kmip.Attribute {
	return kmip.Attribute{AttributeName: name, AttributeValue: value}
}

func template(attrs ...kmip.Attribute) kmip.TemplateAttribute {
	return kmip.TemplateAttribute{Attribute: attrs}
}

// aesTemplate asks for an AES key of the given length plus extra attributes.
func aesTemplate(bits int32, extra ...kmip.Attribute) kmip.TemplateAttribute {
	return template(append([]kmip.Attribute{
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, bits),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
	}, extra...)...)
}

// exec runs one request message as id in version v and checks the
// response's shape: one batch item per request item, answered in v.
func exec(t *testing.T, f *kmiptest.Fixture, id string, v kmip.ProtocolVersion, pls ...kmip.OperationPayload) []kmip.ResponseBatchItem {
	t.Helper()
	resp, _ := f.Execute(t, id, kmip.NewRequestMessage(v, pls...))
	if resp.Header.ProtocolVersion != v {
		t.Errorf("response version %s, want %s", resp.Header.ProtocolVersion, v)
	}
	if len(resp.BatchItem) != len(pls) || int(resp.Header.BatchCount) != len(pls) {
		t.Fatalf("got %d batch items (count %d), want %d", len(resp.BatchItem), resp.Header.BatchCount, len(pls))
	}
	return resp.BatchItem
}

// do runs a single operation as alice.
func do(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, pl kmip.OperationPayload) kmip.ResponseBatchItem {
	t.Helper()
	return exec(t, f, alice, v, pl)[0]
}

// ok checks that an item succeeded and returns its payload.
func ok[T kmip.OperationPayload](t *testing.T, bi kmip.ResponseBatchItem) T {
	t.Helper()
	if bi.ResultStatus != kmip.ResultStatusSuccess {
		t.Fatalf("%s failed: %s %q", ttlv.EnumStr(bi.Operation), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
	}
	p, isT := bi.ResponsePayload.(T)
	if !isT {
		t.Fatalf("%s: payload is %T", ttlv.EnumStr(bi.Operation), bi.ResponsePayload)
	}
	return p
}

// fails checks that an item failed with one of the reasons.
func fails(t *testing.T, bi kmip.ResponseBatchItem, reasons ...kmip.ResultReason) {
	t.Helper()
	if bi.ResultStatus == kmip.ResultStatusSuccess {
		t.Fatalf("%s succeeded, want failure %v", ttlv.EnumStr(bi.Operation), reasonNames(reasons))
	}
	if !slices.Contains(reasons, bi.ResultReason) {
		t.Fatalf("%s failed with %s (%q), want %v", ttlv.EnumStr(bi.Operation), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage, reasonNames(reasons))
	}
	if bi.ResponsePayload != nil {
		t.Errorf("failed item carries a payload %T", bi.ResponsePayload)
	}
}

func reasonNames(rs []kmip.ResultReason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, ttlv.EnumStr(r))
	}
	return out
}

// create makes an AES-256 key as alice in v and returns its id.
func create(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, extra ...kmip.Attribute) string {
	t.Helper()
	return createAs(t, f, alice, v, aesTemplate(256, extra...))
}

func createAs(t *testing.T, f *kmiptest.Fixture, id string, v kmip.ProtocolVersion, tpl kmip.TemplateAttribute) string {
	t.Helper()
	bi := exec(t, f, id, v, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: tpl})[0]
	resp := ok[*payloads.CreateResponsePayload](t, bi)
	if resp.UniqueIdentifier == "" || resp.ObjectType != kmip.ObjectTypeSymmetricKey {
		t.Fatalf("Create answered %+v", resp)
	}
	return resp.UniqueIdentifier
}

// getAttrs returns the named attributes of an object (all when none named).
func getAttrs(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, id string, names ...kmip.AttributeName) []kmip.Attribute {
	t.Helper()
	bi := do(t, f, v, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: names})
	resp := ok[*payloads.GetAttributesResponsePayload](t, bi)
	if resp.UniqueIdentifier != id {
		t.Errorf("Get Attributes answered for %q, want %q", resp.UniqueIdentifier, id)
	}
	return resp.Attribute
}

// value returns the first value of the named attribute.
func value(attrs []kmip.Attribute, name kmip.AttributeName) (any, bool) {
	for _, a := range attrs {
		if a.AttributeName == name {
			return a.AttributeValue, true
		}
	}
	return nil, false
}

func names(attrs []kmip.Attribute) []kmip.AttributeName {
	var out []kmip.AttributeName
	for _, a := range attrs {
		out = append(out, a.AttributeName)
	}
	return out
}

// state returns an object's State as a client of v sees it.
func state(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, id string) kmip.State {
	t.Helper()
	s, found := value(getAttrs(t, f, v, id, kmip.AttributeNameState), kmip.AttributeNameState)
	if !found {
		t.Fatalf("object %s has no State", id)
	}
	return s.(kmip.State)
}

// customValue unwraps a custom attribute's generic value.
func customValue(t *testing.T, v any) any {
	t.Helper()
	tv, isValue := v.(ttlv.Value)
	if !isValue {
		t.Fatalf("custom attribute value is %T, want ttlv.Value", v)
	}
	return tv.Value
}

func hourLater() time.Time { return kmiptest.Epoch.Add(time.Hour) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
