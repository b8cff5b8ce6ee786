// Package policy is who may do what on the KMIP port: a client's identity
// (the CA that issued its certificate and the names the certificate
// carries), the replicated policy entries that bind identities to a tenant
// and a role, the roles themselves, and tenants' quotas.
//
// A tenant owns objects; a client sees only its tenant's objects. A role
// lists the operations and object types a client may use within its
// tenant. Bindings are tried most specific first (exact before patterns,
// then by the characters a pattern spells out, then by name); an identity
// no binding matches gets the entry named "default", or, without one, a
// tenant of its own and the role user.
//
// A tenant entry, named after a tenant, is that tenant's quota: the most
// objects it may hold and the most bytes they may take (QuotaOf); the
// tenant entry named "*" is the quota of every tenant without one. The
// state machine enforces quotas when it applies a command.
//
// The package is stateless: the state machine stores the entries and checks
// them with Compile before applying a change, and the KMIP service compiles
// the stored entries and resolves each connection's identity.
package policy
