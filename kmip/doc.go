// Package kmip is the KMIP front end of kmsd: the mutual-TLS listener and its
// connection loop, the client identity taken from the verified certificate,
// batch execution, one file per operation family, and version gating of
// responses (a response never carries a field or attribute that the request's
// protocol version does not define).
//
// What a client may cost is bounded in two places: the listener bounds
// connections (in total and per identity, conns.go) and the time a request
// may take to arrive (from its first TCP byte) and to be written; the
// Service bounds execution: the request deadline checked between batch
// items, a token bucket per identity, concurrent key-pair generations and
// the identifiers one Locate returns (limits.go). What a tenant may store
// (its quota in the policy) and the attributes an object may hold
// (fsm.MaxObjectAttrs, fsm.MaxAttrBytes) are enforced by the state machine
// when it applies a command; handlers check the per-object limits first
// for a precise answer, and errors.go maps the state machine's refusals.
//
// Who may do what is decided once per request message (identity.go): the
// identity from the certificate chain is resolved through the replicated
// policy (kmip/policy) into a tenant and a role. Every operation is checked
// against the role before its handler runs; handlers look objects up with
// Service.object, which hides other tenants' objects and checks the role's
// object types, and new objects are checked in storeObjects. Commands carry
// the tenant as their actor and the identity, which the store records as
// the creator.
//
// Every batch item, also one refused with its whole message, writes one
// line to the audit log (audit.go, Config.Audit): identity, tenant and role
// (principalOf), operation, the object ids the request named and the
// response returned, the Result Reason's name, the request id, the item's
// index and the client's address; never a payload. A message that cannot
// be decoded writes one line without an operation. When the log cannot be
// written and the node fails closed, items are not run, and an item that
// ran answers General Failure "audit log unavailable" without its payload.
//
// It never writes state itself: every mutation becomes a command handed to a
// Replicator (the cluster), whose Apply returns the state machine's
// *fsm.Result, and reads go to a Store (the local state machine).
//
// Code that holds no state lives in sub-packages that know nothing of the
// Service: kmip/keyformat (key blocks, formats, conversions, key facts),
// kmip/certs, kmip/pgp, kmip/splitkey, kmip/keywrap (RFC 3394/5649),
// kmip/objkind (the registry of stored object types, filled in kinds.go)
// and kmip/kmiperr (the Error type they return). The attribute rules are
// the state machine's (fsm.AttrRules); attrs.go adds the versions that
// define each attribute.
//
// DESIGN.md describes the request path step by step, the registries
// (routes, object kinds, attribute rules, error tables) and how to add an
// operation.
package kmip
