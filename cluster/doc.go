// Package cluster wires the state machine to hashicorp/raft: the bbolt log and
// stable store, file snapshots, the transport, Apply with its size and time
// bounds, read barriers, node identity and join tokens, the keyring
// operations, and snapshot files. Its sub-package seal is the barrier, the
// only holder of root and data keys; audit writes and verifies the
// tamper-evident audit log.
//
// It knows nothing about KMIP: it moves opaque command bytes to the state
// machine and returns whatever the state machine answered.
package cluster
