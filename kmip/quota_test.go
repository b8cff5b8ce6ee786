package kmip_test

import (
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func quota(tenant string, objects, bytes uint64) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: tenant, Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: objects, MaxBytes: bytes}}}
}

// quotaRefusal checks the answer to a command the state machine refused
// for a quota: Permission Denied and the fixed text naming the limit.
func quotaRefusal(t *testing.T, bi kmip.ResponseBatchItem, message string) {
	t.Helper()
	fails(t, bi, kmip.ResultReasonPermissionDenied)
	if bi.ResultMessage != message {
		t.Fatalf("message %q, want %q", bi.ResultMessage, message)
	}
}

// TestObjectQuotaOverTheWire: a client over its tenant's object quota gets
// Permission Denied, its connection and the server go on serving, and
// another tenant is not affected.
func TestObjectQuotaOverTheWire(t *testing.T) {
	f, srv := startServer(t, fastConfig())
	f.SetPolicy(t, bind("team-admins", "team", policy.RoleAdmin, alice), quota("team", 2, 0))
	conn := srv.MustDial(t, alice)
	createReq := encode(kmip.V1_4, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)})
	var id string
	for range 2 {
		id = ok[*payloads.CreateResponsePayload](t, roundTrip(t, conn, createReq).BatchItem[0]).UniqueIdentifier
	}
	quotaRefusal(t, roundTrip(t, conn, createReq).BatchItem[0], "tenant object quota exceeded")
	// The same connection still reads, and the next tenant still creates.
	ok[*payloads.GetResponsePayload](t, roundTrip(t, conn, encode(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})).BatchItem[0])
	other := srv.MustDial(t, bob)
	ok[*payloads.CreateResponsePayload](t, roundTrip(t, other, createReq).BatchItem[0])
	checkServes(t, srv)
	if got := f.FSM.TenantUsage("team").Objects; got != 2 {
		t.Fatalf("tenant holds %d objects, want 2", got)
	}
}

func TestQuotaRefusals(t *testing.T) {
	f := kmiptest.New(t)
	f.SetPolicy(t, bind("team-admins", "team", policy.RoleAdmin, alice), quota("team", 2, 0))
	id := create(t, f, kmip.V1_4)
	// A key pair needs two objects; one is left.
	quotaRefusal(t, do(t, f, kmip.V1_4, createKeyPair(algLen(kmip.CryptographicAlgorithmRSA, 1024), nil, nil)), "tenant object quota exceeded")
	if got := f.FSM.TenantUsage("team").Objects; got != 1 {
		t.Fatalf("a refused key pair left %d objects, want 1", got)
	}
	create(t, f, kmip.V1_4)
	quotaRefusal(t, do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeSecretData, TemplateAttribute: template(attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageDeriveKey)),
		Object: &kmip.SecretData{SecretDataType: kmip.SecretDataTypePassword, KeyBlock: kmip.KeyBlock{KeyFormatType: kmip.KeyFormatTypeOpaque, KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &[]byte{1, 2, 3}}}}}},
	}), "tenant object quota exceeded")
	quotaRefusal(t, do(t, f, kmip.V1_4, &payloads.RekeyRequestPayload{UniqueIdentifier: id}), "tenant object quota exceeded")

	// At its byte limit the tenant can no longer add attributes.
	used := f.FSM.TenantUsage("team").Bytes
	f.SetPolicy(t, quota("team", 0, used))
	add := &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr("x-note", custom(strings.Repeat("n", 64)))}
	quotaRefusal(t, do(t, f, kmip.V1_4, add), "tenant byte quota exceeded")
	f.SetPolicy(t, quota("team", 0, 0))
	ok[*payloads.AddAttributeResponsePayload](t, do(t, f, kmip.V1_4, add))
}
