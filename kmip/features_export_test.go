package kmip

import (
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/objkind"
)

// Internals exported to the kmip_test package.

// AttrRule is the server's rule for one standard attribute.
type AttrRule struct {
	Since, Deprecated                  kmip.ProtocolVersion
	Create, Add, Modify, Delete, Multi bool
	States                             []kmip.State
}

// AttrRules returns the server's attribute rules in table order.
func AttrRules() ([]kmip.AttributeName, map[kmip.AttributeName]AttrRule) {
	var order []kmip.AttributeName
	out := map[kmip.AttributeName]AttrRule{}
	for _, s := range attrTable {
		order = append(order, s.Name)
		out[s.Name] = AttrRule{
			Since: s.since, Deprecated: s.deprecated,
			Create: s.Create, Add: s.Add, Modify: s.Modify, Delete: s.Delete, Multi: s.Multi,
			States: s.States,
		}
	}
	return order, out
}

// TableOperations returns the version defining each operation of the
// feature table.
func TableOperations() map[kmip.Operation]kmip.ProtocolVersion {
	out := map[kmip.Operation]kmip.ProtocolVersion{}
	for _, o := range kmipOperations {
		out[o.op] = o.since
	}
	return out
}

// TableObjectTypes returns the version defining each object type of the
// feature table.
func TableObjectTypes() map[kmip.ObjectType]kmip.ProtocolVersion {
	out := map[kmip.ObjectType]kmip.ProtocolVersion{}
	for _, t := range kmipObjectTypes {
		out[t.t] = t.since
	}
	return out
}

// RouteSince returns the registered operations and the first version each
// is served in.
func RouteSince() map[kmip.Operation]kmip.ProtocolVersion {
	out := map[kmip.Operation]kmip.ProtocolVersion{}
	for op, d := range routeDefs {
		out[op] = d.since
	}
	return out
}

// ObjectKindSince returns the registered object types and the first
// version each is stored in.
func ObjectKindSince() map[kmip.ObjectType]kmip.ProtocolVersion {
	out := map[kmip.ObjectType]kmip.ProtocolVersion{}
	for _, t := range objkind.Types(supportedVersions[0]) {
		k, _ := objkind.Lookup(t)
		out[t] = k.Since
	}
	return out
}

// ClaimedProfiles returns the profiles Query Profiles may list.
func ClaimedProfiles() []kmip.ProfileName { return claimedProfiles }

// QueryFunctionSince returns the version defining each Query Function.
func QueryFunctionSince() map[kmip.QueryFunction]kmip.ProtocolVersion { return queryFunctionSince }
