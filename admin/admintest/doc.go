// Package admintest helps test the admin API and its clients: a throwaway
// PKI with kmsd's three trust domains (client, admin and node CAs), a
// map-backed fake admin.Cluster, and an in-process gRPC server over loopback
// mutual TLS that stops at the end of the test and logs through t.Log.
package admintest
