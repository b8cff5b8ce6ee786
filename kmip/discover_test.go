package kmip_test

import (
	"slices"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func TestDiscoverVersions(t *testing.T) {
	newestFirst := []kmip.ProtocolVersion{kmip.V1_4, kmip.V1_3, kmip.V1_2, kmip.V1_1, kmip.V1_0}
	tests := []struct {
		name    string
		version kmip.ProtocolVersion
		client  []kmip.ProtocolVersion
		want    []kmip.ProtocolVersion
	}{
		{"all in 1.1", kmip.V1_1, nil, newestFirst},
		{"all in 1.4", kmip.V1_4, nil, newestFirst},
		// KMIP 1.4 §4.26: with a list from the client, the server answers
		// only the versions of that list it supports.
		{"filtered", kmip.V1_2, []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_0}, []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_0}},
		{"filtered with unknown", kmip.V1_4, []kmip.ProtocolVersion{kmip.V2_0, kmip.V1_4}, []kmip.ProtocolVersion{kmip.V1_4}},
		{"none in common", kmip.V1_3, []kmip.ProtocolVersion{kmip.V2_0, {ProtocolVersionMajor: 3}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, tt.version, &payloads.DiscoverVersionsRequestPayload{ProtocolVersion: tt.client})
			got := ok[*payloads.DiscoverVersionsResponsePayload](t, bi).ProtocolVersion
			if !slices.Equal(got, tt.want) {
				t.Errorf("versions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDiscoverVersionsNotIn10(t *testing.T) {
	// Discover Versions was added in KMIP 1.1.
	f := kmiptest.New(t)
	bi := do(t, f, kmip.V1_0, &payloads.DiscoverVersionsRequestPayload{})
	fails(t, bi, kmip.ResultReasonOperationNotSupported)
}

func TestQueryOperations(t *testing.T) {
	base := []kmip.Operation{
		kmip.OperationCreate, kmip.OperationRegister, kmip.OperationLocate, kmip.OperationGet,
		kmip.OperationGetAttributes, kmip.OperationGetAttributeList, kmip.OperationActivate,
		kmip.OperationRevoke, kmip.OperationDestroy, kmip.OperationQuery,
		kmip.OperationAddAttribute, kmip.OperationModifyAttribute, kmip.OperationDeleteAttribute,
	}
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, v, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})
			ops := ok[*payloads.QueryResponsePayload](t, bi).Operations
			for _, op := range base {
				if !slices.Contains(ops, op) {
					t.Errorf("Query does not list %v", op)
				}
			}
			hasDiscover := slices.Contains(ops, kmip.OperationDiscoverVersions)
			if want := v != kmip.V1_0; hasDiscover != want {
				t.Errorf("Discover Versions listed = %v, want %v", hasDiscover, want)
			}
			// Every listed operation must actually be served in v.
			for _, op := range ops {
				if op == kmip.OperationDiscoverVersions {
					continue
				}
				if !slices.Contains(base, op) {
					t.Errorf("Query lists %v, which this test does not know to be served", op)
				}
			}
		})
	}
}

func TestQueryObjectsAndServerInformation(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, v, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{
				kmip.QueryFunctionObjects, kmip.QueryFunctionServerInformation,
			}})
			resp := ok[*payloads.QueryResponsePayload](t, bi)
			for _, ot := range []kmip.ObjectType{kmip.ObjectTypeSymmetricKey, kmip.ObjectTypeSecretData, kmip.ObjectTypeOpaqueObject} {
				if !slices.Contains(resp.ObjectType, ot) {
					t.Errorf("Query Objects does not list %v", ot)
				}
			}
			if resp.VendorIdentification != "kmsd test" {
				t.Errorf("Vendor Identification = %q", resp.VendorIdentification)
			}
			if len(resp.Operations) != 0 {
				t.Errorf("operations listed without Query Operations: %v", resp.Operations)
			}
		})
	}
}

func TestQueryNothingAsked(t *testing.T) {
	f := kmiptest.New(t)
	resp := ok[*payloads.QueryResponsePayload](t, do(t, f, kmip.V1_2, &payloads.QueryRequestPayload{}))
	if len(resp.Operations)+len(resp.ObjectType) != 0 || resp.VendorIdentification != "" {
		t.Errorf("empty Query answered %+v", resp)
	}
}
