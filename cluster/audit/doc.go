// Package audit writes and verifies kmsd's tamper-evident audit log: one
// JSON line per KMIP batch item and per admin call, on every node.
//
// It knows neither KMIP nor gRPC: a Record is plain strings that the kmip
// and admin packages fill in. No record field ever holds key material, a
// secret, a credential, a join token, a share or a passphrase; callers
// record ids, names and result codes only.
//
// # Lines
//
//	{"seq":7,"kv":2,"prev":"<64 hex>","time":"2026-12-04T14:20:27.123456789Z","node":"node-1",
//	 "identity":"backup-app","tenant":"backup-app","role":"client","operation":"Get",
//	 "objects":["<id>"],"result":"success","request":"<32 hex>","item":0,
//	 "remote":"10.0.0.7:51234","mac":"<64 hex>"}
//
// (one line on disk). seq counts from 1 along the chain; kv is the data key
// version of the MAC; prev is the previous line's mac (32 zero bytes before
// the first line of a chain); reason, the KMIP Result Reason or gRPC code
// name, is present on failures. Text fields are cut at 200 bytes and a line
// lists at most 1000 object ids (objects_omitted counts the rest).
//
// mac = HMAC-SHA256(k_kv, prev MAC || body), where body is the line's bytes
// up to the mac field, closed with "}", and k_kv is derived inside the
// barrier from data key version kv (seal.Barrier.AuditMAC): the key never
// leaves it. New lines use the newest data key. A line written while the
// node holds no key (sealed, or before the cluster's first data key) has
// kv 0 and mac = SHA-256(prev MAC || body): it is chained but not
// authenticated, and is protected only by the next keyed line, whose MAC
// covers it through prev; Verify counts such lines and those after the last
// keyed line, which nothing authenticates.
//
// Old lines verify as long as their key version is in the keyring:
// retiring a data key version (kmsctl keyring retire) makes the lines under
// it unverifiable, so archive and verify logs before retiring the version
// they use. A root key rotation does not change data keys, and so no MAC.
//
// # Chains and files
//
// A Log numbers and chains lines in the order they are recorded and hands
// each to its sinks: a size-rotated file (FileSink), a writer such as
// stdout (WriterSink), syslog (SyslogSink). At start the chain continues
// from the last line of the file (FileSink's Head); without a file, or
// when that line is cut short, a new chain starts at seq 1, which Verify
// reports (restarted) when it follows other lines. A line that a sink could not write leaves a gap that Verify
// reports as deleted. In fail-closed mode, Record and Ready return
// ErrUnavailable while lines cannot be written, and callers refuse the
// operation; otherwise failures are logged, at most once every 10 seconds.
//
// # Verifying
//
// Verifier (and Stream, which splits files into bounded lines) checks lines
// in order as one chain, from the first line given: a file that starts
// mid-chain verifies from its first line, and several files in order
// verify as one chain. It reports the first bad line and its kind:
// truncated, malformed, modified, bad-mac, deleted, inserted, reordered,
// restarted or unverifiable. Tail truncation (lines removed from the end) cannot be told
// from a log that ends there.
package audit
