package kmip

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/objkind"
)

// kmipOperation is one operation of KMIP 1.0–1.4 (§4, §5) and the version
// that defines it.
type kmipOperation struct {
	op    kmip.Operation
	name  string
	since kmip.ProtocolVersion
}

// kmipOperations lists every KMIP 1.x operation of the Operation
// enumeration (KMIP 1.4 §9.1.3.2.27), in enumeration order.
var kmipOperations = []kmipOperation{
	{kmip.OperationCreate, "Create", v10},
	{kmip.OperationCreateKeyPair, "Create Key Pair", v10},
	{kmip.OperationRegister, "Register", v10},
	{kmip.OperationReKey, "Re-key", v10},
	{kmip.OperationDeriveKey, "Derive Key", v10},
	{kmip.OperationCertify, "Certify", v10},
	{kmip.OperationReCertify, "Re-certify", v10},
	{kmip.OperationLocate, "Locate", v10},
	{kmip.OperationCheck, "Check", v10},
	{kmip.OperationGet, "Get", v10},
	{kmip.OperationGetAttributes, "Get Attributes", v10},
	{kmip.OperationGetAttributeList, "Get Attribute List", v10},
	{kmip.OperationAddAttribute, "Add Attribute", v10},
	{kmip.OperationModifyAttribute, "Modify Attribute", v10},
	{kmip.OperationDeleteAttribute, "Delete Attribute", v10},
	{kmip.OperationObtainLease, "Obtain Lease", v10},
	{kmip.OperationGetUsageAllocation, "Get Usage Allocation", v10},
	{kmip.OperationActivate, "Activate", v10},
	{kmip.OperationRevoke, "Revoke", v10},
	{kmip.OperationDestroy, "Destroy", v10},
	{kmip.OperationArchive, "Archive", v10},
	{kmip.OperationRecover, "Recover", v10},
	{kmip.OperationValidate, "Validate", v10},
	{kmip.OperationQuery, "Query", v10},
	{kmip.OperationCancel, "Cancel", v10},
	{kmip.OperationPoll, "Poll", v10},
	{kmip.OperationNotify, "Notify (server to client)", v10},
	{kmip.OperationPut, "Put (server to client)", v10},
	{kmip.OperationReKeyKeyPair, "Re-key Key Pair", v11},
	{kmip.OperationDiscoverVersions, "Discover Versions", v11},
	{kmip.OperationEncrypt, "Encrypt", v12},
	{kmip.OperationDecrypt, "Decrypt", v12},
	{kmip.OperationSign, "Sign", v12},
	{kmip.OperationSignatureVerify, "Signature Verify", v12},
	{kmip.OperationMAC, "MAC", v12},
	{kmip.OperationMACVerify, "MAC Verify", v12},
	{kmip.OperationRNGRetrieve, "RNG Retrieve", v12},
	{kmip.OperationRNGSeed, "RNG Seed", v12},
	{kmip.OperationHash, "Hash", v12},
	{kmip.OperationCreateSplitKey, "Create Split Key", v12},
	{kmip.OperationJoinSplitKey, "Join Split Key", v12},
	{kmip.OperationImport, "Import", v14},
	{kmip.OperationExport, "Export", v14},
}

// kmipObjectType is one Object Type of KMIP 1.0–1.4 (§2.2).
type kmipObjectType struct {
	t          kmip.ObjectType
	name       string
	since      kmip.ProtocolVersion
	deprecated kmip.ProtocolVersion
}

var kmipObjectTypes = []kmipObjectType{
	{kmip.ObjectTypeCertificate, "Certificate", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypeSymmetricKey, "Symmetric Key", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypePublicKey, "Public Key", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypePrivateKey, "Private Key", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypeSplitKey, "Split Key", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypeTemplate, "Template", v10, v13},
	{kmip.ObjectTypeSecretData, "Secret Data", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypeOpaqueObject, "Opaque Object", v10, kmip.ProtocolVersion{}},
	{kmip.ObjectTypePGPKey, "PGP Key", v12, kmip.ProtocolVersion{}},
}

// Cells of the feature tables.
const (
	cellYes        = "✓"
	cellDeprecated = "✓†"
	cellNo         = "—"
	cellUndefined  = "n/a"
)

// versionsOldestFirst are the columns of the feature tables.
func versionsOldestFirst() []kmip.ProtocolVersion {
	vs := slices.Clone(supportedVersions)
	slices.Reverse(vs)
	return vs
}

// FeatureTable renders, as Markdown, what this server does in each KMIP
// version: operations (from the route registry), object types (from the
// object-kind registry), attributes (from the attribute rules) and Query
// answers. README.md carries it between the features markers; a test keeps
// the two identical.
func FeatureTable() string {
	var b strings.Builder
	vs := versionsOldestFirst()
	b.WriteString("Generated from the code by `go test ./kmip -run TestREADMEFeatureTable -update-readme`.\n\n")
	b.WriteString("✓ supported · — not supported · n/a not defined in that KMIP version · † deprecated in that version\n")
	writeOperations(&b, vs)
	writeObjectTypes(&b, vs)
	writeAttributes(&b, vs)
	writeQuery(&b, vs)
	return b.String()
}

func header(b *strings.Builder, first string, vs []kmip.ProtocolVersion, extra ...string) {
	cols := []string{first}
	for _, v := range vs {
		cols = append(cols, v.String())
	}
	cols = append(cols, extra...)
	fmt.Fprintf(b, "\n| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

func row(b *strings.Builder, cells ...string) {
	fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
}

func versionCell(v, since, deprecated kmip.ProtocolVersion, supported bool) string {
	switch {
	case before(v, since):
		return cellUndefined
	case !supported:
		return cellNo
	case deprecated != (kmip.ProtocolVersion{}) && !before(v, deprecated):
		return cellDeprecated
	}
	return cellYes
}

func writeOperations(b *strings.Builder, vs []kmip.ProtocolVersion) {
	b.WriteString("\n### Operations\n")
	header(b, "operation", vs)
	for _, o := range kmipOperations {
		cells := []string{o.name}
		r, routed := routeDefs[o.op]
		for _, v := range vs {
			cells = append(cells, versionCell(v, o.since, kmip.ProtocolVersion{}, routed && !before(v, r.since)))
		}
		row(b, cells...)
	}
}

func writeObjectTypes(b *strings.Builder, vs []kmip.ProtocolVersion) {
	b.WriteString("\n### Object types\n")
	header(b, "object type", vs)
	for _, t := range kmipObjectTypes {
		cells := []string{t.name}
		k, kind := objkind.Lookup(t.t)
		for _, v := range vs {
			cells = append(cells, versionCell(v, t.since, t.deprecated, kind && !before(v, k.Since)))
		}
		row(b, cells...)
	}
}

func writeAttributes(b *strings.Builder, vs []kmip.ProtocolVersion) {
	b.WriteString("\n### Attributes\n\n")
	b.WriteString("An attribute a version does not define (n/a) is refused in that version's requests " +
		"(Invalid Field) and never returned to its clients. " +
		"*Client sets*: whether a client may give it when creating the object and add it later; " +
		"*client changes*: Modify and Delete Attribute.\n")
	header(b, "attribute", vs, "client sets", "client changes", "instances")
	for _, s := range attrTable {
		cells := []string{string(s.Name)}
		for _, v := range vs {
			cells = append(cells, versionCell(v, s.since, s.deprecated, true))
		}
		row(b, append(cells, clientSets(s), clientChanges(s), instances(s.Multi))...)
	}
	custom := []string{"Custom Attribute `x-…`"}
	server := []string{"Custom Attribute `y-…`"}
	for range vs {
		custom = append(custom, cellYes)
		server = append(server, cellYes)
	}
	row(b, append(custom, "on creation or later", "modify, delete", instances(true))...)
	row(b, append(server, "no (the server's)", "no", instances(true))...)
}

func clientSets(s attrSpec) string {
	switch {
	case s.Create && s.Add:
		return "on creation or later"
	case s.Create:
		return "on creation"
	case s.Add:
		return "later"
	}
	return "no"
}

func clientChanges(s attrSpec) string {
	var parts []string
	if s.Modify {
		m := "modify"
		if len(s.States) > 0 {
			var names []string
			for _, st := range s.States {
				names = append(names, ttlv.EnumStr(st))
			}
			m += " while " + strings.Join(names, " or ")
		}
		parts = append(parts, m)
	}
	if s.Delete {
		parts = append(parts, "delete")
	}
	out := strings.Join(parts, ", ")
	if out == "" {
		out = "no"
	}
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	return out
}

func instances(multi bool) string {
	if multi {
		return "many"
	}
	return "one"
}

// queryFunctionNames are the Query Functions in enumeration order.
var queryFunctionNames = []struct {
	f    kmip.QueryFunction
	name string
}{
	{kmip.QueryFunctionOperations, "Query Operations"},
	{kmip.QueryFunctionObjects, "Query Objects"},
	{kmip.QueryFunctionServerInformation, "Query Server Information"},
	{kmip.QueryFunctionApplicationNamespaces, "Query Application Namespaces"},
	{kmip.QueryFunctionExtensionList, "Query Extension List"},
	{kmip.QueryFunctionExtensionMap, "Query Extension Map"},
	{kmip.QueryFunctionAttestationTypes, "Query Attestation Types"},
	{kmip.QueryFunctionRNGs, "Query RNGs"},
	{kmip.QueryFunctionValidations, "Query Validations"},
	{kmip.QueryFunctionProfiles, "Query Profiles"},
	{kmip.QueryFunctionCapabilities, "Query Capabilities"},
	{kmip.QueryFunctionClientRegistrationMethods, "Query Client Registration Methods"},
}

func writeQuery(b *strings.Builder, vs []kmip.ProtocolVersion) {
	b.WriteString("\n### Query\n")
	header(b, "function", vs, "answer")
	newest := vs[len(vs)-1]
	for _, q := range queryFunctionNames {
		cells := []string{q.name}
		for _, v := range vs {
			cells = append(cells, versionCell(v, queryFunctionSince[q.f], kmip.ProtocolVersion{}, true))
		}
		row(b, append(cells, describeAnswer(q.f, newest))...)
	}
}

// describeAnswer summarises the answer to one Query function in version v.
func describeAnswer(f kmip.QueryFunction, v kmip.ProtocolVersion) string {
	switch f {
	case kmip.QueryFunctionOperations:
		return "the operations marked ✓"
	case kmip.QueryFunctionObjects:
		return "the object types marked ✓"
	case kmip.QueryFunctionServerInformation:
		return "Vendor Identification (configurable) and an empty Server Information"
	}
	resp := &payloads.QueryResponsePayload{}
	answerStatic(resp, f, v)
	var parts []string
	for _, r := range resp.RNGParameters {
		parts = append(parts, "RNG Algorithm "+ttlv.EnumStr(r.RNGAlgorithm))
	}
	for _, p := range resp.ProfileInformation {
		parts = append(parts, "`"+ttlv.EnumStr(p.ProfileName)+"`")
	}
	for _, c := range resp.CapabilityInformation {
		parts = append(parts, describeCapabilities(c))
	}
	if len(parts) == 0 {
		return "nothing: none supported"
	}
	return strings.Join(parts, ", ")
}

func describeCapabilities(c kmip.CapabilityInformation) string {
	flag := func(name string, p *bool) string {
		if p != nil && *p {
			return name + " yes"
		}
		return name + " no"
	}
	return strings.Join([]string{
		flag("Streaming", c.StreamingCapability),
		flag("Asynchronous", c.AsynchronousCapability),
		flag("Attestation", c.AttestationCapability),
		flag("Batch Undo (1.4)", c.BatchUndoCapability),
		flag("Batch Continue (1.4)", c.BatchContinueCapability),
		"Unwrap Mode " + ttlv.EnumStr(c.UnwrapMode),
		"Destroy Action " + ttlv.EnumStr(c.DestroyAction),
		"Shredding Algorithm " + ttlv.EnumStr(c.ShreddingAlgorithm),
		"RNG Mode " + ttlv.EnumStr(c.RNGMode),
	}, "; ")
}
