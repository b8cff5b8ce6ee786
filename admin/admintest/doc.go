// Package admintest helps test the admin API and its clients: a throwaway
// PKI whose client certificates carry a chosen Organization, a map-backed
// fake admin.Cluster, and an in-process gRPC server over loopback mutual TLS
// that stops at the end of the test and logs through t.Log.
package admintest
