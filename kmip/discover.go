package kmip

import (
	"context"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/objkind"
)

func init() {
	registerRoute(kmip.OperationDiscoverVersions, kmip.V1_1, func(s *Service) handler { return handle(s.discoverVersions) })
	registerRoute(kmip.OperationQuery, kmip.V1_0, func(s *Service) handler { return handle(s.query) })
}

// MaxQueryFunctions bounds the Query Function fields of one request; KMIP
// 1.4 defines twelve functions.
const MaxQueryFunctions = 32

// discoverVersions answers with the supported versions, newest first; when
// the client lists versions, only those it listed (KMIP 1.4 §4.26).
func (s *Service) discoverVersions(_ context.Context, _ *reqCtx, req *payloads.DiscoverVersionsRequestPayload) (*payloads.DiscoverVersionsResponsePayload, error) {
	resp := &payloads.DiscoverVersionsResponsePayload{}
	for _, v := range supportedVersions {
		if len(req.ProtocolVersion) == 0 || slices.Contains(req.ProtocolVersion, v) {
			resp.ProtocolVersion = append(resp.ProtocolVersion, v)
		}
	}
	return resp, nil
}

// objectTypes lists the object types this server stores in version v.
func objectTypes(v kmip.ProtocolVersion) []kmip.ObjectType { return objkind.Types(v) }

// queryFunctionSince is the version that defines each Query Function
// (KMIP 1.0–1.4 §9.1.3.2.24).
var queryFunctionSince = map[kmip.QueryFunction]kmip.ProtocolVersion{
	kmip.QueryFunctionOperations:                v10,
	kmip.QueryFunctionObjects:                   v10,
	kmip.QueryFunctionServerInformation:         v10,
	kmip.QueryFunctionApplicationNamespaces:     v10,
	kmip.QueryFunctionExtensionList:             v11,
	kmip.QueryFunctionExtensionMap:              v11,
	kmip.QueryFunctionAttestationTypes:          v12,
	kmip.QueryFunctionRNGs:                      v13,
	kmip.QueryFunctionValidations:               v13,
	kmip.QueryFunctionProfiles:                  v13,
	kmip.QueryFunctionCapabilities:              v13,
	kmip.QueryFunctionClientRegistrationMethods: v13,
}

// query answers the Query functions of the request's version (KMIP 1.4
// §4.25). A function the version does not define, or that this server does
// not know, is ignored. Functions with nothing to report are answered
// with nothing, which the spec allows for each of them:
//   - Application Namespaces: the server generates Application Data for no
//     namespace (§3.36);
//   - Extension List and Map: the server defines no tag in the Extensions
//     range; custom x-/y- attributes are attributes, not extensions;
//   - Attestation Types, Validations, Client Registration Methods: none
//     supported, no formal validation claimed; clients are known by their
//     TLS certificates only.
func (s *Service) query(_ context.Context, rc *reqCtx, req *payloads.QueryRequestPayload) (*payloads.QueryResponsePayload, error) {
	if len(req.QueryFunction) > MaxQueryFunctions {
		return nil, errorf(kmip.ResultReasonInvalidField, "too many Query Function fields")
	}
	v := rc.version
	resp := &payloads.QueryResponsePayload{}
	for _, f := range req.QueryFunction {
		if since, known := queryFunctionSince[f]; !known || before(v, since) {
			continue
		}
		switch f {
		case kmip.QueryFunctionOperations:
			resp.Operations = s.operations(v)
		case kmip.QueryFunctionObjects:
			resp.ObjectType = objectTypes(v)
		case kmip.QueryFunctionServerInformation:
			resp.VendorIdentification = s.cfg.ServerInfo
			resp.ServerInformation = &ttlv.Value{Tag: kmip.TagServerInformation, Value: ttlv.Struct{}}
		default:
			answerStatic(resp, f, v)
		}
	}
	return resp, nil
}

// answerStatic answers the Query functions whose answer depends on the
// version only.
func answerStatic(resp *payloads.QueryResponsePayload, f kmip.QueryFunction, v kmip.ProtocolVersion) {
	switch f {
	case kmip.QueryFunctionRNGs:
		resp.RNGParameters = []kmip.RNGParameters{serverRNG}
	case kmip.QueryFunctionProfiles:
		resp.ProfileInformation = profiles(v)
	case kmip.QueryFunctionCapabilities:
		resp.CapabilityInformation = []kmip.CapabilityInformation{capabilities()}
	}
}

// claimedProfiles are the KMIP server profiles this server conforms to:
// every mandatory test case of the profile's version passes against a real
// kmsd, as recorded in e2e/testdata/conformance_pass.txt
// (TestClaimedProfilesPass checks each claim against that list). Left out:
// the KMIP 1.2 profile versions and the 1.1 Opaque Object and Storage Array
// ones (no test vectors here to prove them); Symmetric Key Foundry 1.3
// (SKFF-M-9..12-13 expect no Random Number Generator attribute, which this
// server sets); Tape Library (TL-M-1 expects Check among the operations);
// Baseline and Complete Server.
var claimedProfiles = []kmip.ProfileName{
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_0,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_1,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_3,
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_4,
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_0,
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_1,
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_4,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_0,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_3,
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_4,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_0,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_3,
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_4,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_0,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_1,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_3,
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_4,
}

// profileNameSince is the version whose Profile Name enumeration holds p:
// KMIP 1.3 defines the values up to the 1.3 profiles, 1.4 adds its own.
func profileNameSince(p kmip.ProfileName) kmip.ProtocolVersion {
	if p >= kmip.ProfileNameBaselineServerBasicKMIPV1_4 {
		return v14
	}
	return v13
}

// profiles lists the claimed profiles whose name version v defines.
func profiles(v kmip.ProtocolVersion) []kmip.ProfileInformation {
	var out []kmip.ProfileInformation
	for _, p := range claimedProfiles {
		if !before(v, profileNameSince(p)) {
			out = append(out, kmip.ProfileInformation{ProfileName: p})
		}
	}
	return out
}

// capabilities describes this server in the Capability Information
// structure of KMIP 1.3; the encoder drops the two batch fields, new in
// 1.4, for a 1.3 client.
func capabilities() kmip.CapabilityInformation {
	no, yes := false, true
	return kmip.CapabilityInformation{
		StreamingCapability:    &no, // no streaming Encrypt/Decrypt/Sign/MAC
		AsynchronousCapability: &no, // every operation completes before the answer
		AttestationCapability:  &no,
		// Undo reverts a failed batch in one command (undo.go); Continue works.
		BatchUndoCapability:     &yes,
		BatchContinueCapability: &yes,
		// Register keeps a wrapped key as given and Get returns it
		// still wrapped: the server never unwraps it (register.go).
		UnwrapMode: kmip.UnwrapModeNotProcessed,
		// Destroy removes the key material and keeps the object and its
		// attributes in the Destroyed state (fsm/lifecycle.go).
		DestroyAction:      kmip.DestroyActionKeyMaterialDeleted,
		ShreddingAlgorithm: kmip.ShreddingAlgorithmUnsupported,
		// One crypto/rand generator serves every client of a node.
		RNGMode: kmip.RNGModeSharedInstantiation,
	}
}
