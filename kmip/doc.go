// Package kmip is the KMIP front end of kmsd: the mutual-TLS listener and its
// connection loop, the client identity taken from the verified certificate,
// batch execution, one file per operation family, and version gating of
// responses (a response never carries a field or attribute that the request's
// protocol version does not define).
//
// It never writes state itself: every mutation becomes a command handed to a
// Replicator (the cluster), and reads go to a Store (the local state machine).
package kmip
