// Package harness builds the kmsd and kmsctl binaries once per test process
// and runs real kmsd processes for end-to-end tests: start, wait until they
// answer KMIP over mutual TLS, kill, stop, restart, and talk to them with raw
// TTLV, the ovh/kmip-go client, or kmsctl.
//
// Every process is tied to the test that started it: its output goes to
// t.Log with a node prefix, and t.Cleanup stops it. Readiness is polled with
// a deadline; nothing here sleeps to synchronise.
package harness
