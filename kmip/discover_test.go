package kmip_test

import (
	"slices"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
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

func query(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, fns ...kmip.QueryFunction) *payloads.QueryResponsePayload {
	t.Helper()
	return ok[*payloads.QueryResponsePayload](t, do(t, f, v, &payloads.QueryRequestPayload{QueryFunction: fns}))
}

// TestQueryOperationsMatchRoutes checks Query Operations against the
// route registry: in every version, an operation is listed exactly when a
// route serves it there (the version walk of version_test.go runs each one
// successfully), and an operation not listed is answered Operation Not
// Supported.
func TestQueryOperationsMatchRoutes(t *testing.T) {
	f := kmiptest.New(t)
	routes := kmsdkmip.RouteSince()
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			listed := query(t, f, v, kmip.QueryFunctionOperations).Operations
			if !slices.IsSorted(listed) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
				t.Errorf("operations not sorted or repeated: %v", listed)
			}
			for op := range kmsdkmip.TableOperations() {
				since, routed := routes[op]
				served := routed && compareVersions(v, since) >= 0
				if slices.Contains(listed, op) != served {
					t.Errorf("%s: listed %v, served %v", ttlv.EnumStr(op), !served, served)
				}
				if served {
					continue
				}
				resp, _ := f.ExecuteDirect(t, alice, &kmip.RequestMessage{
					Header:    kmip.RequestHeader{ProtocolVersion: v, BatchCount: 1},
					BatchItem: []kmip.RequestBatchItem{{Operation: op, RequestPayload: kmip.NewUnknownPayload(op)}},
				})
				fails(t, resp.BatchItem[0], kmip.ResultReasonOperationNotSupported)
			}
			if has := slices.Contains(listed, kmip.OperationDiscoverVersions); has != (v != kmip.V1_0) {
				t.Errorf("Discover Versions listed = %v in %s", has, v)
			}
		})
	}
}

func TestQueryObjects(t *testing.T) {
	f := kmiptest.New(t)
	kinds := kmsdkmip.ObjectKindSince()
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			got := query(t, f, v, kmip.QueryFunctionObjects).ObjectType
			for ot, since := range kinds {
				if want := compareVersions(v, since) >= 0; slices.Contains(got, ot) != want {
					t.Errorf("%s listed = %v, want %v", ttlv.EnumStr(ot), !want, want)
				}
			}
			if len(got) == 0 || slices.Contains(got, kmip.ObjectTypePGPKey) && v.ProtocolVersionMinor < 2 {
				t.Errorf("objects in %s: %v", v, got)
			}
		})
	}
}

func TestQueryServerInformation(t *testing.T) {
	f := kmiptest.New(t)
	resp := query(t, f, kmip.V1_1, kmip.QueryFunctionServerInformation)
	if resp.VendorIdentification != "kmsd test" || resp.ServerInformation == nil {
		t.Errorf("Server Information answered %+v", resp)
	}
	if len(resp.Operations)+len(resp.ObjectType) != 0 {
		t.Errorf("listed operations or objects without being asked: %+v", resp)
	}
}

// TestQueryByVersion sends every Query function in every version: those
// the version does not define are ignored, and the others get the answer
// this server can truthfully give.
func TestQueryByVersion(t *testing.T) {
	all := []kmip.QueryFunction{
		kmip.QueryFunctionApplicationNamespaces, kmip.QueryFunctionExtensionList, kmip.QueryFunctionExtensionMap,
		kmip.QueryFunctionAttestationTypes, kmip.QueryFunctionRNGs, kmip.QueryFunctionValidations,
		kmip.QueryFunctionProfiles, kmip.QueryFunctionCapabilities, kmip.QueryFunctionClientRegistrationMethods,
		0x7F, // not a Query Function
	}
	f := kmiptest.New(t)
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			resp, b := f.Execute(t, alice, kmip.NewRequestMessage(v, &payloads.QueryRequestPayload{QueryFunction: all}))
			q := ok[*payloads.QueryResponsePayload](t, resp.BatchItem[0])
			checkDefinedIn(t, b, v)
			from13 := v.ProtocolVersionMinor >= 3
			// Nothing to list: no Application Namespace, Extension,
			// Attestation Type, Validation or Client Registration Method.
			if len(q.ApplicationNamespace)+len(q.ExtensionInformation)+len(q.AttestationType)+
				len(q.ValidationInformation)+len(q.ClientRegistrationMethod) != 0 {
				t.Errorf("answered %+v", q)
			}
			if got := len(q.RNGParameters); got != map[bool]int{true: 1}[from13] {
				t.Fatalf("%d RNG Parameters", got)
			}
			if from13 && q.RNGParameters[0] != (kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified}) {
				t.Errorf("RNG Parameters %+v", q.RNGParameters[0])
			}
			if (len(q.ProfileInformation) > 0) != from13 || (len(q.CapabilityInformation) == 1) != from13 {
				t.Errorf("profiles %v, capabilities %v", q.ProfileInformation, q.CapabilityInformation)
			}
		})
	}
}

func TestQueryCapabilities(t *testing.T) {
	f := kmiptest.New(t)
	no, yes := false, true
	want := kmip.CapabilityInformation{
		StreamingCapability: &no, AsynchronousCapability: &no, AttestationCapability: &no,
		BatchUndoCapability: &yes, BatchContinueCapability: &yes,
		UnwrapMode:         kmip.UnwrapModeNotProcessed,
		DestroyAction:      kmip.DestroyActionKeyMaterialDeleted,
		ShreddingAlgorithm: kmip.ShreddingAlgorithmUnsupported,
		RNGMode:            kmip.RNGModeSharedInstantiation,
	}
	for _, v := range []kmip.ProtocolVersion{kmip.V1_3, kmip.V1_4} {
		t.Run(vname(v), func(t *testing.T) {
			resp, b := f.Execute(t, alice, kmip.NewRequestMessage(v, &payloads.QueryRequestPayload{
				QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionCapabilities, kmip.QueryFunctionCapabilities},
			}))
			caps := ok[*payloads.QueryResponsePayload](t, resp.BatchItem[0]).CapabilityInformation
			if len(caps) != 1 {
				t.Fatalf("%d Capability Information for a repeated function", len(caps))
			}
			w := want
			if v == kmip.V1_3 {
				// The batch capabilities are new in 1.4.
				w.BatchUndoCapability, w.BatchContinueCapability = nil, nil
			}
			if got := caps[0]; !capsEqual(got, w) {
				t.Errorf("capabilities %s, want %s", capsString(got), capsString(w))
			}
			checkDefinedIn(t, b, v)
		})
	}
}

// TestUnwrapModeNotProcessed backs the Unwrap Mode capability: a key
// registered wrapped is stored and returned as given, never unwrapped.
func TestUnwrapModeNotProcessed(t *testing.T) {
	f := kmiptest.New(t)
	kek := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 256, seq(32)))
	wrapped := seq(24)
	key := &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType: kmip.KeyFormatTypeRaw, CryptographicAlgorithm: kmip.CryptographicAlgorithmAES, CryptographicLength: 128,
		KeyValue: &kmip.KeyValue{Wrapped: &wrapped},
		KeyWrappingData: &kmip.KeyWrappingData{
			WrappingMethod:           kmip.WrappingMethodEncrypt,
			EncryptionKeyInformation: &kmip.EncryptionKeyInformation{UniqueIdentifier: kek},
		},
	}}
	id := register(t, f, kmip.V1_4, key)
	got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
	sk, isKey := got.Object.(*kmip.SymmetricKey)
	if !isKey || sk.KeyBlock.KeyWrappingData == nil || sk.KeyBlock.KeyValue == nil || sk.KeyBlock.KeyValue.Wrapped == nil ||
		!slices.Equal(*sk.KeyBlock.KeyValue.Wrapped, wrapped) {
		t.Errorf("a key registered wrapped came back as %+v", got.Object)
	}
}

func capsEqual(a, b kmip.CapabilityInformation) bool {
	return capsString(a) == capsString(b)
}

func capsString(c kmip.CapabilityInformation) string {
	s := func(p *bool) string {
		if p == nil {
			return "-"
		}
		return map[bool]string{true: "yes", false: "no"}[*p]
	}
	return s(c.StreamingCapability) + s(c.AsynchronousCapability) + s(c.AttestationCapability) +
		s(c.BatchUndoCapability) + s(c.BatchContinueCapability) + " " + ttlv.EnumStr(c.UnwrapMode) + " " +
		ttlv.EnumStr(c.DestroyAction) + " " + ttlv.EnumStr(c.ShreddingAlgorithm) + " " + ttlv.EnumStr(c.RNGMode)
}

func TestQueryProfiles(t *testing.T) {
	f := kmiptest.New(t)
	claimed := kmsdkmip.ClaimedProfiles()
	for _, v := range []kmip.ProtocolVersion{kmip.V1_3, kmip.V1_4} {
		t.Run(vname(v), func(t *testing.T) {
			var got []kmip.ProfileName
			for _, p := range query(t, f, v, kmip.QueryFunctionProfiles).ProfileInformation {
				if p.ServerURI != "" || p.ServerPort != 0 {
					t.Errorf("profile %s carries a URI or port", ttlv.EnumStr(p.ProfileName))
				}
				got = append(got, p.ProfileName)
			}
			for _, p := range claimed {
				// Profile names of KMIP 1.4 are not in the 1.3 enumeration.
				want := v == kmip.V1_4 || p < kmip.ProfileNameBaselineServerBasicKMIPV1_4
				if slices.Contains(got, p) != want {
					t.Errorf("%s listed = %v, want %v", ttlv.EnumStr(p), !want, want)
				}
			}
			if len(got) == 0 {
				t.Error("no profile listed")
			}
		})
	}
}

func TestQueryRejectsTooManyFunctions(t *testing.T) {
	f := kmiptest.New(t)
	fns := make([]kmip.QueryFunction, kmsdkmip.MaxQueryFunctions+1)
	for i := range fns {
		fns[i] = kmip.QueryFunctionOperations
	}
	fails(t, do(t, f, kmip.V1_4, &payloads.QueryRequestPayload{QueryFunction: fns}), kmip.ResultReasonInvalidField)
	fns = fns[:kmsdkmip.MaxQueryFunctions]
	if ops := query(t, f, kmip.V1_4, fns...).Operations; len(ops) == 0 || len(ops) != len(slices.Compact(slices.Clone(ops))) {
		t.Errorf("repeated Query Operations answered %v", ops)
	}
}

func TestQueryNothingAsked(t *testing.T) {
	f := kmiptest.New(t)
	resp := query(t, f, kmip.V1_2)
	if len(resp.Operations)+len(resp.ObjectType) != 0 || resp.VendorIdentification != "" || resp.ServerInformation != nil {
		t.Errorf("empty Query answered %+v", resp)
	}
}
