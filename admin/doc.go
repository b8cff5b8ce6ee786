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
// On the admin API the certificate's role (roles.go, from its Subject OU:
// operator, backup or read-only; none of them means operator) must be one
// that the method table allows; a method not in the table is denied.
//
// Every admin call, refused ones included, writes one audit line
// (audit.go: method, caller, role, address, gRPC code; never a request's
// secrets); VerifyAuditLog (auditlog.go) checks audit log files under the
// barrier's audit keys, which never leave the node.
//
// Not here: listening, TLS configuration and certificate loading (cmd/kmsd),
// and any decision about membership or snapshots (cluster/).
package admin
