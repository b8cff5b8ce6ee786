package kmip_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"maps"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
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
	kmip.TagRNGAlgorithm:                kmip.V1_3,
	kmip.TagProfileName:                 kmip.V1_3,
	kmip.TagStreamingCapability:         kmip.V1_3,
	kmip.TagUnwrapMode:                  kmip.V1_3,
	kmip.TagDestroyAction:               kmip.V1_3,
	kmip.TagShreddingAlgorithm:          kmip.V1_3,
	kmip.TagRNGMode:                     kmip.V1_3,
	kmip.TagBatchUndoCapability:         kmip.V1_4,
	kmip.TagBatchContinueCapability:     kmip.V1_4,
}

// enumIntroduced returns the first version that defines an enumeration
// value a response payload may carry (KMIP 1.1–1.4 §9.1.3.2), or false
// when the tag is not checked.
func enumIntroduced(tag int, value uint32) (kmip.ProtocolVersion, bool) {
	switch tag {
	case kmip.TagOperation:
		switch {
		case value >= uint32(kmip.OperationImport):
			return kmip.V1_4, true
		case value >= uint32(kmip.OperationEncrypt):
			return kmip.V1_2, true
		case value >= uint32(kmip.OperationReKeyKeyPair):
			return kmip.V1_1, true
		}
	case kmip.TagObjectType:
		if value >= uint32(kmip.ObjectTypePGPKey) {
			return kmip.V1_2, true
		}
	case kmip.TagProfileName:
		if value >= uint32(kmip.ProfileNameBaselineServerBasicKMIPV1_4) {
			return kmip.V1_4, true
		}
	}
	return kmip.V1_0, false
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
	root := decodeGeneric(t, b)
	walk(root, func(item ttlv.Value) bool {
		if item.Tag != kmip.TagResponsePayload {
			return true
		}
		// Enumeration values in a payload; the Operation of a batch item
		// echoes the client's request, whatever its version.
		walk(item, func(field ttlv.Value) bool {
			e, isEnum := field.Value.(ttlv.Enum)
			if since, checked := enumIntroduced(field.Tag, uint32(e)); isEnum && checked && compareVersions(v, since) < 0 {
				t.Errorf("KMIP %s response carries %s %#x (new in %s)", v, ttlv.TagString(field.Tag), uint32(e), since)
			}
			return true
		})
		return false
	})
	walk(root, func(item ttlv.Value) bool {
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

// versionRun executes batches as alice in version v, with error
// continuation, and walks every response for what v does not define.
type versionRun struct {
	t     *testing.T
	f     *kmiptest.Fixture
	v     kmip.ProtocolVersion
	attrs int // Attribute structures seen
}

// exec runs one batch; every item must succeed.
func (r *versionRun) exec(what string, pls ...kmip.OperationPayload) []kmip.ResponseBatchItem {
	r.t.Helper()
	req := kmip.NewRequestMessage(r.v, pls...)
	req.Header.BatchErrorContinuationOption = kmip.BatchErrorContinuationOptionContinue
	resp, b := r.f.Execute(r.t, alice, req)
	if resp.Header.ProtocolVersion != r.v {
		r.t.Errorf("%s: answered in %s", what, resp.Header.ProtocolVersion)
	}
	for j, bi := range resp.BatchItem {
		if bi.ResultStatus != kmip.ResultStatusSuccess {
			r.t.Errorf("%s: item %d (%s) failed: %s %q", what, j, ttlv.EnumStr(bi.Operation), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
		}
	}
	r.attrs += checkDefinedIn(r.t, b, r.v)
	return resp.BatchItem
}

// everything reads an object's attributes both ways.
func everything(id string) []kmip.OperationPayload {
	return []kmip.OperationPayload{
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: id},
		&payloads.GetAttributeListRequestPayload{UniqueIdentifier: id},
	}
}

// clientAttrs are attributes a client of v sets on what it creates: the
// ones each version adds, so that a later version's never leak to an
// earlier one.
func clientAttrs(v kmip.ProtocolVersion, tag string) []kmip.Attribute {
	out := []kmip.Attribute{
		attr(kmip.AttributeNameName, kmip.Name{NameValue: tag + "-" + v.String(), NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameObjectGroup, "invariant"),
		attr(kmip.AttributeNameContactInformation, "ops"),
		attr("x-Vendor", custom("VMware")),
	}
	if compareVersions(v, kmip.V1_2) >= 0 {
		out = append(out, attr(kmip.AttributeNameAlternativeName, kmip.AlternativeName{AlternativeNameValue: tag, AlternativeNameType: kmip.AlternativeNameTypeUninterpretedTextString}))
	}
	if v == kmip.V1_4 {
		out = append(out, attr(kmip.AttributeNameSensitive, false), attr(kmip.AttributeNameComment, "c"), attr(kmip.AttributeNameDescription, "d"))
	}
	return out
}

// opSessions exercises each operation in version v on key, a Pre-Active
// AES-256 key created for that operation alone. Every registered operation
// needs an entry: TestVersionWalkCoversRegistry fails otherwise.
var opSessions = map[kmip.Operation]func(v kmip.ProtocolVersion, key string) []kmip.OperationPayload{
	kmip.OperationCreate: func(v kmip.ProtocolVersion, _ string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128, clientAttrs(v, "create")...)}}
	},
	kmip.OperationCreateKeyPair: func(v kmip.ProtocolVersion, _ string) []kmip.OperationPayload {
		common := template(append(clientAttrs(v, "pair"),
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmECDSA),
			attr(kmip.AttributeNameCryptographicLength, int32(256)))...)
		return []kmip.OperationPayload{&payloads.CreateKeyPairRequestPayload{CommonTemplateAttribute: &common}}
	},
	kmip.OperationRegister: func(v kmip.ProtocolVersion, _ string) []kmip.OperationPayload {
		obj := rawKey(kmip.CryptographicAlgorithmAES, 128, seq(16))
		return []kmip.OperationPayload{&payloads.RegisterRequestPayload{ObjectType: obj.ObjectType(), Object: obj, TemplateAttribute: template(clientAttrs(v, "register")...)}}
	},
	kmip.OperationReKey: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key), &payloads.RekeyRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationLocate: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return []kmip.OperationPayload{
			&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "invariant")}},
			&payloads.LocateRequestPayload{MaximumItems: 2},
		}
	},
	kmip.OperationGet: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.GetRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationGetAttributes: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.GetAttributesRequestPayload{UniqueIdentifier: key, AttributeName: kmip.AllAttributeNames}}
	},
	kmip.OperationGetAttributeList: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.GetAttributeListRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationAddAttribute: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{
			&payloads.AddAttributeRequestPayload{UniqueIdentifier: key, Attribute: attr("x-Product", custom("vSphere"))},
			&payloads.AddAttributeRequestPayload{UniqueIdentifier: key, Attribute: attr(kmip.AttributeNameObjectGroup, "second")},
		}
	},
	kmip.OperationModifyAttribute: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.ModifyAttributeRequestPayload{UniqueIdentifier: key, Attribute: attr(kmip.AttributeNameContactInformation, "new")}}
	},
	kmip.OperationDeleteAttribute: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.DeleteAttributeRequestPayload{UniqueIdentifier: key, AttributeName: kmip.AttributeNameContactInformation}}
	},
	kmip.OperationObtainLease: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key), &payloads.ObtainLeaseRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationGetUsageAllocation: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		limits := kmip.UsageLimits{UsageLimitsTotal: 100, UsageLimitsUnit: kmip.UsageLimitsUnitByte}
		return []kmip.OperationPayload{
			&payloads.AddAttributeRequestPayload{UniqueIdentifier: key, Attribute: attr(kmip.AttributeNameUsageLimits, limits)},
			activate(key),
			&payloads.GetUsageAllocationRequestPayload{UniqueIdentifier: key, UsageLimitsCount: 10},
		}
	},
	kmip.OperationActivate: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key)}
	},
	kmip.OperationRevoke: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key), revoke(key, kmip.RevocationReasonCodeKeyCompromise)}
	},
	kmip.OperationDestroy: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{destroy(key)}
	},
	kmip.OperationArchive: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.ArchiveRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationRecover: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.ArchiveRequestPayload{UniqueIdentifier: key}, &payloads.RecoverRequestPayload{UniqueIdentifier: key}}
	},
	kmip.OperationQuery: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		var all []kmip.QueryFunction
		for f := range kmsdkmip.QueryFunctionSince() {
			all = append(all, f)
		}
		slices.Sort(all)
		return []kmip.OperationPayload{&payloads.QueryRequestPayload{QueryFunction: all}}
	},
	kmip.OperationDiscoverVersions: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&payloads.DiscoverVersionsRequestPayload{}}
	},
	kmip.OperationEncrypt: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key), &payloads.EncryptRequestPayload{UniqueIdentifier: key, CryptographicParameters: walkECB, Data: seq(16)}}
	},
	kmip.OperationDecrypt: func(_ kmip.ProtocolVersion, key string) []kmip.OperationPayload {
		return []kmip.OperationPayload{activate(key), &payloads.DecryptRequestPayload{UniqueIdentifier: key, CryptographicParameters: walkECB, Data: seq(16)}}
	},
	kmip.OperationSign: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return append(walkKey(walkPrivate(), kmip.CryptographicUsageSign),
			&payloads.SignRequestPayload{CryptographicParameters: walkECDSA, Data: seq(20)})
	},
	kmip.OperationSignatureVerify: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return append(walkKey(walkPublic(), kmip.CryptographicUsageVerify),
			&payloads.SignatureVerifyRequestPayload{CryptographicParameters: walkECDSA, Data: seq(20), SignatureData: seq(70)})
	},
	kmip.OperationMAC: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return append(walkKey(transparentKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)), kmip.CryptographicUsageMACGenerate),
			&kmsdkmip.MACRequestPayload{Data: seq(20)})
	},
	kmip.OperationMACVerify: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return append(walkKey(transparentKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)), kmip.CryptographicUsageMACVerify),
			&kmsdkmip.MACVerifyRequestPayload{Data: seq(20), MACData: seq(32)})
	},
	kmip.OperationHash: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&kmsdkmip.HashRequestPayload{CryptographicParameters: &kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, Data: seq(3)}}
	},
	kmip.OperationRNGRetrieve: func(kmip.ProtocolVersion, string) []kmip.OperationPayload {
		return []kmip.OperationPayload{&kmsdkmip.RNGRetrieveRequestPayload{DataLength: 16}}
	},
}

var (
	walkECB   = &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}
	walkECDSA = &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}
	walkEC    = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// walkKey registers a key for the operations that need another kind than
// the walk's AES key, and activates it; the operation then names it
// through the ID Placeholder.
func walkKey(obj kmip.Object, mask kmip.CryptographicUsageMask) []kmip.OperationPayload {
	return []kmip.OperationPayload{
		&payloads.RegisterRequestPayload{ObjectType: obj.ObjectType(), Object: obj, TemplateAttribute: template(attr(kmip.AttributeNameCryptographicUsageMask, mask))},
		&payloads.ActivateRequestPayload{},
	}
}

func walkPrivate() kmip.Object {
	der, err := x509.MarshalPKCS8PrivateKey(walkEC())
	if err != nil {
		panic(err)
	}
	return &kmip.PrivateKey{KeyBlock: kmip.KeyBlock{KeyFormatType: kmip.KeyFormatTypePKCS_8, CryptographicAlgorithm: kmip.CryptographicAlgorithmECDSA, CryptographicLength: 256,
		KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &der}}}}}
}

func walkPublic() kmip.Object {
	der, err := x509.MarshalPKIXPublicKey(&walkEC().PublicKey)
	if err != nil {
		panic(err)
	}
	return &kmip.PublicKey{KeyBlock: kmip.KeyBlock{KeyFormatType: kmip.KeyFormatTypeX_509, CryptographicAlgorithm: kmip.CryptographicAlgorithmECDSA, CryptographicLength: 256,
		KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &der}}}}}
}

// sampleObjects returns one object of every type a client may register,
// valid for this server. Every registered object type needs one:
// TestVersionWalkCoversRegistry fails otherwise.
func sampleObjects(t *testing.T) map[kmip.ObjectType]kmip.Object {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "version walk"},
		NotBefore: kmiptest.Epoch.Add(-time.Hour), NotAfter: kmiptest.Epoch.Add(24 * time.Hour),
	}
	cert, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	block := func(format kmip.KeyFormatType, b []byte, alg kmip.CryptographicAlgorithm, bits int32) kmip.KeyBlock {
		return kmip.KeyBlock{
			KeyFormatType: format, CryptographicAlgorithm: alg, CryptographicLength: bits,
			KeyValue: &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &b}}},
		}
	}
	pgp := []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFake\n-----END PGP PUBLIC KEY BLOCK-----\n")
	return map[kmip.ObjectType]kmip.Object{
		kmip.ObjectTypeSymmetricKey: transparentKey(kmip.CryptographicAlgorithmHMACSHA256, 256, seq(32)),
		kmip.ObjectTypeSecretData:   secretData(seq(96)),
		kmip.ObjectTypeOpaqueObject: &kmip.OpaqueObject{OpaqueDataType: 0x80000000, OpaqueDataValue: seq(10)},
		kmip.ObjectTypeTemplate: &kmip.Template{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameObjectGroup, "from-template"),
		}},
		kmip.ObjectTypeCertificate: &kmip.Certificate{CertificateType: kmip.CertificateTypeX_509, CertificateValue: cert},
		kmip.ObjectTypePublicKey:   &kmip.PublicKey{KeyBlock: block(kmip.KeyFormatTypeX_509, spki, kmip.CryptographicAlgorithmECDSA, 256)},
		kmip.ObjectTypePrivateKey:  &kmip.PrivateKey{KeyBlock: block(kmip.KeyFormatTypePKCS_8, pkcs8, kmip.CryptographicAlgorithmECDSA, 256)},
		kmip.ObjectTypeSplitKey: &kmip.SplitKey{SplitKeyParts: 2, KeyPartIdentifier: 1, SplitKeyThreshold: 2, SplitKeyMethod: kmip.SplitKeyMethodXOR,
			KeyBlock: block(kmip.KeyFormatTypeRaw, seq(32), kmip.CryptographicAlgorithmAES, 256)},
		kmip.ObjectTypePGPKey: &kmip.PGPKey{PGPKeyVersion: 4, KeyBlock: block(kmip.KeyFormatTypeRaw, pgp, 0, 0)},
	}
}

func TestVersionWalkCoversRegistry(t *testing.T) {
	for op := range kmsdkmip.RouteSince() {
		if _, ok := opSessions[op]; !ok {
			t.Errorf("operation %s is registered but the version walk does not exercise it: add it to opSessions", ttlv.EnumStr(op))
		}
	}
	samples := sampleObjects(t)
	for ot := range kmsdkmip.ObjectKindSince() {
		if _, ok := samples[ot]; !ok {
			t.Errorf("object type %s is registered but the version walk registers none: add one to sampleObjects", ttlv.EnumStr(ot))
		}
	}
}

// TestResponsesOnlyCarryVersionFields runs every registered operation and
// registers every registered object type in each version, and walks every
// response generically: no field, enumeration value or attribute that the
// version does not define may appear (KMIP 1.x; CLIENTS.md: a 1.0 client
// must not see Fresh, a 1.1 client not Sensitive).
func TestResponsesOnlyCarryVersionFields(t *testing.T) {
	samples := sampleObjects(t)
	routes := kmsdkmip.RouteSince()
	kinds := kmsdkmip.ObjectKindSince()
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			r := &versionRun{t: t, f: kmiptest.New(t), v: v}
			for _, op := range slices.Sorted(maps.Keys(routes)) {
				session, known := opSessions[op]
				if !known || compareVersions(v, routes[op]) < 0 {
					continue
				}
				key := create(t, r.f, v, clientAttrs(v, "walk-"+ttlv.EnumStr(op))...)
				items := r.exec(ttlv.EnumStr(op), session(v, key)...)
				r.exec(ttlv.EnumStr(op)+" then read", everything(key)...)
				// Read what the operation created, too.
				for _, bi := range items {
					for _, id := range createdIDs(bi) {
						r.exec(ttlv.EnumStr(op)+" created", everything(id)...)
					}
				}
			}
			for _, ot := range slices.Sorted(maps.Keys(kinds)) {
				obj, known := samples[ot]
				if !known || compareVersions(v, kinds[ot]) < 0 {
					continue
				}
				what := "register " + ttlv.EnumStr(ot)
				attrs := clientAttrs(v, what)
				if ot == kmip.ObjectTypeTemplate {
					attrs = attrs[:1] // a template holds a Name
				}
				id := ok[*payloads.RegisterResponsePayload](t, r.exec(what, &payloads.RegisterRequestPayload{
					ObjectType: ot, Object: obj, TemplateAttribute: template(attrs...),
				})[0]).UniqueIdentifier
				reads := everything(id)
				if ot != kmip.ObjectTypeTemplate {
					reads = append(reads, &payloads.GetRequestPayload{UniqueIdentifier: id})
				}
				r.exec(what+" then read", reads...)
			}
			if r.attrs < 200 {
				t.Errorf("the walk saw only %d attributes; it is not looking", r.attrs)
			}
		})
	}
}

// createdIDs returns the identifiers of objects a response says it made.
func createdIDs(bi kmip.ResponseBatchItem) []string {
	switch p := bi.ResponsePayload.(type) {
	case *payloads.CreateResponsePayload:
		return []string{p.UniqueIdentifier}
	case *payloads.RegisterResponsePayload:
		return []string{p.UniqueIdentifier}
	case *payloads.CreateKeyPairResponsePayload:
		return []string{p.PrivateKeyUniqueIdentifier, p.PublicKeyUniqueIdentifier}
	case *payloads.RekeyResponsePayload:
		return []string{p.UniqueIdentifier}
	}
	return nil
}
