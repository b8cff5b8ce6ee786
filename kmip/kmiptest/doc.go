// Package kmiptest holds test fixtures for the kmip package: a real state
// machine behind a fake Replicator that applies commands directly, a real
// keyring, a fixed clock, a helper that runs one request message through
// Service.Execute, an in-memory PKI, and a helper that serves the Service
// over mutual TLS on a loopback listener.
//
// Everything registers its own cleanup with t.Cleanup and routes logs to
// t.Log, so a test only asks for what it needs.
package kmiptest
