// Package admin serves the operator's gRPC admin API (proto/admin.proto,
// service kmsd.admin.v1.Admin) and the standard gRPC health service, and
// owns the mutual-TLS role checks for every service on the node's gRPC
// server.
//
// It declares what it needs from the cluster as the Cluster interface, which
// *cluster.Node satisfies; it never bypasses that interface. It maps the
// cluster's sentinel errors to gRPC status codes in one place (errors.go);
// internal error text is logged, never sent.
//
// Authorization (auth.go) is by the Organization of the verified client
// certificate: "kmsd-admins" for the admin API, "kmsd-nodes" for the
// node-to-node service, per full-method prefix. Unknown services are denied;
// the health service is open to any client that completed the TLS handshake.
//
// Not here: listening, TLS configuration and certificate loading (cmd/kmsd),
// and any decision about membership or snapshots (cluster/).
package admin
