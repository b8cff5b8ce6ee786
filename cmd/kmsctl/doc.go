// Command kmsctl is the operator's tool for kmsd.
//
//   - `key` commands are a small KMIP client (create, register, get, locate,
//     activate, revoke, destroy, attributes) over mutual TLS, built on
//     ovh/kmip-go's message types and TTLV codec (see transport.go for why
//     not its kmipclient).
//   - `cluster` (join, members, remove, transfer-leader, token create),
//     `snapshot` (save, inspect, restore), `operator` (seal-status, unseal,
//     seal, rotate, rewrap, retire, keyring) and `status` use the gRPC admin
//     API with an admin certificate.
//   - `bench` generates KMIP load (connections, operation mix, targets,
//     preload) and reports throughput and latency percentiles; see
//     bench/README.md.
//
// It talks to servers only through their public interfaces; it never
// touches storage directly.
package main
