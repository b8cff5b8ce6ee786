// Command kmsctl is the operator's tool for kmsd.
//
//   - `key` commands are a small KMIP client (create, create-pair, register
//     in every format the server reads, get, locate, activate, revoke,
//     destroy, rekey, archive, recover, attributes, attr add|modify|delete)
//     and `query` and `discover`, over mutual TLS, built on ovh/kmip-go's
//     message types and TTLV codec (see transport.go for why not its
//     kmipclient). --server takes a list of addresses tried in order
//     (transport.go's dial); errors_conn.go words connection failures as
//     their fix.
//   - `cluster` (join, members, remove, transfer-leader, token create),
//     `snapshot` (save, inspect, restore), `operator` (seal-status, unseal,
//     seal, rotate, rewrap, retire, keyring) and `status` use the gRPC admin
//     API with an admin certificate.
//   - `bench` generates KMIP load (connections, operation mix, targets,
//     preload) and reports throughput and latency percentiles; see
//     bench/README.md.
//
// Every group command refuses an unknown subcommand (groups.go). Long
// transfers and waits show progress on a terminal (progress.go).
//
// It talks to servers only through their public interfaces; it never
// touches storage directly.
package main
