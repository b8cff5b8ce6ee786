package policy

import (
	"fmt"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Role says which KMIP operations a client may run and on which object
// types, within its tenant.
type Role struct {
	Name string
	// ops is nil when every operation is allowed.
	ops map[kmip.Operation]bool
	// types is nil when every object type is allowed.
	types map[kmip.ObjectType]bool
	// WrappedExportOnly: key material leaves only wrapped, so a Get must
	// name a wrapping key.
	WrappedExportOnly bool
	// DestroyOwnOnly: Destroy only objects the same identity created.
	DestroyOwnOnly bool
}

// Allows reports whether the role may run op.
func (r *Role) Allows(op kmip.Operation) bool { return r.ops == nil || r.ops[op] }

// AllowsType reports whether the role may create, register or act on
// objects of type t.
func (r *Role) AllowsType(t kmip.ObjectType) bool { return r.types == nil || r.types[t] }

// The built-in roles. Their names cannot be used for custom roles.
const (
	RoleAdmin    = "admin"
	RoleUser     = "user"
	RoleReadOnly = "read-only"
	RoleWrapOnly = "wrap-only"
	RoleNone     = "none"
)

// readOps are the operations that change nothing.
var readOps = []kmip.Operation{
	kmip.OperationGet, kmip.OperationGetAttributes, kmip.OperationGetAttributeList,
	kmip.OperationLocate, kmip.OperationQuery, kmip.OperationDiscoverVersions,
}

// useOps are the operations that use a key without exporting it.
var useOps = []kmip.Operation{
	kmip.OperationEncrypt, kmip.OperationDecrypt, kmip.OperationSign, kmip.OperationSignatureVerify,
	kmip.OperationMAC, kmip.OperationMACVerify, kmip.OperationRNGRetrieve, kmip.OperationHash,
	kmip.OperationCheck, kmip.OperationValidate, kmip.OperationObtainLease, kmip.OperationGetUsageAllocation,
}

// builtin are the built-in roles by name:
//   - admin: everything in its tenant;
//   - user: create, register and use keys in its tenant, Destroy only what
//     it created;
//   - read-only: Get, Get Attributes, Get Attribute List, Locate, Query,
//     Discover Versions;
//   - wrap-only: use keys and read attributes; key material leaves only
//     wrapped;
//   - none: nothing (a default entry with this role refuses every identity
//     that no binding names).
var builtin = map[string]*Role{
	RoleAdmin:    {Name: RoleAdmin},
	RoleUser:     {Name: RoleUser, DestroyOwnOnly: true},
	RoleReadOnly: {Name: RoleReadOnly, ops: opSet(readOps)},
	RoleWrapOnly: {Name: RoleWrapOnly, ops: opSet(append(readOps, useOps...)), WrappedExportOnly: true},
	RoleNone:     {Name: RoleNone, ops: map[kmip.Operation]bool{}},
}

// Builtin returns a built-in role.
func Builtin(name string) (*Role, bool) {
	r, ok := builtin[name]
	return r, ok
}

func opSet(ops []kmip.Operation) map[kmip.Operation]bool {
	m := make(map[kmip.Operation]bool, len(ops))
	for _, op := range ops {
		m[op] = true
	}
	return m
}

// Limits of a custom role.
const (
	maxRoleOperations  = 64
	maxRoleObjectTypes = 16
)

// compileRole checks a custom role and turns it into a Role.
func compileRole(name string, p *kmsdpb.PolicyRole) (*Role, error) {
	if _, ok := builtin[name]; ok {
		return nil, fmt.Errorf("%w: %q is a built-in role", ErrInvalid, name)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: role %q is empty", ErrInvalid, name)
	}
	if len(p.GetOperations()) == 0 {
		return nil, fmt.Errorf("%w: role %q lists no operations (use \"*\" for all)", ErrInvalid, name)
	}
	if len(p.GetOperations()) > maxRoleOperations || len(p.GetObjectTypes()) > maxRoleObjectTypes {
		return nil, fmt.Errorf("%w: role %q lists more than %d operations or %d object types", ErrInvalid, name, maxRoleOperations, maxRoleObjectTypes)
	}
	r := &Role{Name: name, WrappedExportOnly: p.GetWrappedExportOnly(), DestroyOwnOnly: p.GetDestroyOwnOnly()}
	for _, s := range p.GetOperations() {
		if s == "*" {
			if len(p.GetOperations()) != 1 {
				return nil, fmt.Errorf("%w: role %q: \"*\" stands alone", ErrInvalid, name)
			}
			break
		}
		v, err := ttlv.EnumByName(kmip.TagOperation, s)
		if err != nil {
			return nil, fmt.Errorf("%w: role %q: unknown operation %q (names as in KMIP without spaces, e.g. GetAttributes)", ErrInvalid, name, truncate(s))
		}
		if r.ops == nil {
			r.ops = map[kmip.Operation]bool{}
		}
		r.ops[kmip.Operation(v)] = true
	}
	for _, s := range p.GetObjectTypes() {
		v, err := ttlv.EnumByName(kmip.TagObjectType, s)
		if err != nil {
			return nil, fmt.Errorf("%w: role %q: unknown object type %q (e.g. SymmetricKey, PrivateKey, SecretData)", ErrInvalid, name, truncate(s))
		}
		if r.types == nil {
			r.types = map[kmip.ObjectType]bool{}
		}
		r.types[kmip.ObjectType(v)] = true
	}
	return r, nil
}

// truncate shortens a value quoted back in an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
