package kmip_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// TestEveryOperationHidesOtherTenants: for every operation that names an
// object, another tenant's object gets exactly the answer a missing one
// gets, after the same number of read barriers (so the same round trips);
// the operations that name none are listed, so a new operation cannot be
// left out.
func TestEveryOperationHidesOtherTenants(t *testing.T) {
	named := map[kmip.Operation]func(id string) kmip.OperationPayload{
		kmip.OperationGet: func(id string) kmip.OperationPayload { return &payloads.GetRequestPayload{UniqueIdentifier: id} },
		kmip.OperationGetAttributes: func(id string) kmip.OperationPayload {
			return &payloads.GetAttributesRequestPayload{UniqueIdentifier: id}
		},
		kmip.OperationGetAttributeList: func(id string) kmip.OperationPayload {
			return &payloads.GetAttributeListRequestPayload{UniqueIdentifier: id}
		},
		kmip.OperationAddAttribute: func(id string) kmip.OperationPayload {
			return &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "x")}
		},
		kmip.OperationModifyAttribute: func(id string) kmip.OperationPayload {
			return &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "x")}
		},
		kmip.OperationDeleteAttribute: func(id string) kmip.OperationPayload {
			return &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: kmip.AttributeNameContactInformation}
		},
		kmip.OperationObtainLease: func(id string) kmip.OperationPayload {
			return &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: id}
		},
		kmip.OperationGetUsageAllocation: func(id string) kmip.OperationPayload {
			return &payloads.GetUsageAllocationRequestPayload{UniqueIdentifier: id, UsageLimitsCount: 1}
		},
		kmip.OperationActivate: func(id string) kmip.OperationPayload { return &payloads.ActivateRequestPayload{UniqueIdentifier: id} },
		kmip.OperationRevoke: func(id string) kmip.OperationPayload {
			return &payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise}}
		},
		kmip.OperationDestroy: func(id string) kmip.OperationPayload { return &payloads.DestroyRequestPayload{UniqueIdentifier: id} },
		kmip.OperationArchive: func(id string) kmip.OperationPayload { return &payloads.ArchiveRequestPayload{UniqueIdentifier: id} },
		kmip.OperationRecover: func(id string) kmip.OperationPayload { return &payloads.RecoverRequestPayload{UniqueIdentifier: id} },
		kmip.OperationReKey:   func(id string) kmip.OperationPayload { return &payloads.RekeyRequestPayload{UniqueIdentifier: id} },
		kmip.OperationEncrypt: func(id string) kmip.OperationPayload {
			return &payloads.EncryptRequestPayload{UniqueIdentifier: id, Data: seq(16)}
		},
		kmip.OperationDecrypt: func(id string) kmip.OperationPayload {
			return &payloads.DecryptRequestPayload{UniqueIdentifier: id, Data: seq(16)}
		},
		kmip.OperationSign: func(id string) kmip.OperationPayload {
			return &payloads.SignRequestPayload{UniqueIdentifier: id, Data: seq(16)}
		},
		kmip.OperationSignatureVerify: func(id string) kmip.OperationPayload {
			return &payloads.SignatureVerifyRequestPayload{UniqueIdentifier: id, Data: seq(16), SignatureData: seq(16)}
		},
		kmip.OperationMAC: func(id string) kmip.OperationPayload {
			return &kmsdkmip.MACRequestPayload{UniqueIdentifier: id, Data: seq(16)}
		},
		kmip.OperationMACVerify: func(id string) kmip.OperationPayload {
			return &kmsdkmip.MACVerifyRequestPayload{UniqueIdentifier: id, Data: seq(16), MACData: seq(16)}
		},
		// A wrapping key is an object too.
		kmip.OperationRegister: func(id string) kmip.OperationPayload {
			return &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, Object: wrappedUnder(id)}
		},
	}
	nameless := map[kmip.Operation]bool{
		kmip.OperationCreate: true, kmip.OperationCreateKeyPair: true, kmip.OperationLocate: true,
		kmip.OperationQuery: true, kmip.OperationDiscoverVersions: true,
		kmip.OperationHash: true, kmip.OperationRNGRetrieve: true,
	}
	f := kmiptest.New(t)
	for _, op := range f.Service.RoutedOperations() {
		if named[op] == nil && !nameless[op] {
			t.Errorf("%s is in neither list of this test", ttlv.EnumStr(op))
		}
	}
	for op, payload := range named {
		t.Run(ttlv.EnumStr(op), func(t *testing.T) {
			theirs := createAs(t, f, bob, kmip.V1_4, template(
				attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
				attr(kmip.AttributeNameCryptographicLength, int32(128)),
				attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageWrapKey|kmip.CryptographicUsageUnwrapKey),
				activeSince()))
			b0 := f.Replicator.Barriers()
			other := do(t, f, kmip.V1_4, payload(theirs))
			b1 := f.Replicator.Barriers()
			missing := do(t, f, kmip.V1_4, payload(uuid.NewString()))
			b2 := f.Replicator.Barriers()
			if other.ResultStatus == kmip.ResultStatusSuccess || other.ResultReason != missing.ResultReason || other.ResultMessage != missing.ResultMessage {
				t.Errorf("another tenant's object: %s %q; a missing one: %s %q", ttlv.EnumStr(other.ResultReason), other.ResultMessage,
					ttlv.EnumStr(missing.ResultReason), missing.ResultMessage)
			}
			if b1-b0 != b2-b1 {
				t.Errorf("read barriers: %d for another tenant's object, %d for a missing one", b1-b0, b2-b1)
			}
		})
	}
	// Locate by the other tenant's name finds nothing.
	name := kmip.Name{NameValue: "bobs-key", NameType: kmip.NameTypeUninterpretedTextString}
	createAs(t, f, bob, kmip.V1_4, aesTemplate(128, attr(kmip.AttributeNameName, name)))
	located := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_4, &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{attr(kmip.AttributeNameName, name)}}))
	if len(located.UniqueIdentifier) != 0 || (located.LocatedItems != nil && *located.LocatedItems != 0) {
		t.Errorf("Locate by another tenant's name: %v (%v located)", located.UniqueIdentifier, located.LocatedItems)
	}
}

// wrappedUnder is an AES key block registered wrapped under kek.
func wrappedUnder(kek string) *kmip.SymmetricKey {
	k := rawKey(kmip.CryptographicAlgorithmAES, 128, rfcWrapped)
	k.KeyBlock.KeyWrappingData = &kmip.KeyWrappingData{
		WrappingMethod:           kmip.WrappingMethodEncrypt,
		EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: kek, CryptographicParameters: nistKW},
	}
	return k
}
