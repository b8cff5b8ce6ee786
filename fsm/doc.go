// Package fsm is the deterministic state machine behind the Raft log.
//
// It owns the object store (go-memdb tables and indexes), the commands that
// change it and their Apply functions, the KMIP life-cycle and attribute rules
// (one table, attrrules.go: AttrRules), the domain errors and their wire codes
// (errors.go: Sentinels), Locate queries, and snapshot/restore.
//
// Apply is deterministic: it never reads a clock, random numbers, the network
// or the environment. Identifiers, key material and timestamps arrive inside
// the command. A command that cannot be decoded panics, because replicas must
// not diverge; a domain failure (not found, wrong state) is returned as a value.
package fsm
