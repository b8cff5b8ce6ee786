// Package wire owns the binary framing and structural validation of KMIP TTLV
// request messages (KMIP 1.x specification, section 9.1).
//
// It runs before a message reaches the github.com/ovh/kmip-go ttlv decoder,
// which panics on some malformed primitives (for example an Integer whose
// length is shorter than 4) and silently accepts others (non-zero padding,
// Booleans other than 0 or 1, invalid UTF-8 in a Text String).
//
// What it owns:
//
//   - ReadMessage: reading exactly one message from a stream, checking the
//     8-byte header (Request Message tag, Structure type, length a multiple
//     of 8, size limit) before the body is allocated or read.
//   - Validate: walking every item of a message and checking tags, types,
//     lengths, padding, Boolean and Text String values, nesting depth, item
//     count and that nothing trails the top-level item.
//   - PeekVersion: a best-effort read of the Protocol Version of a message
//     that failed validation, so an error response can use the client's
//     version.
//
// What it does not own: decoding into Go values (kmip-go's ttlv package does
// that), the meaning of tags (which tag may appear where, required fields,
// operations), mapping errors to a KMIP Result Reason (done once at the KMIP
// edge), connection handling and deadlines.
//
// Errors are package sentinels wrapped with %w; the wrapped text carries an
// offset and a tag in hex for logs but never value bytes, which may be key
// material. The text is for logs only and is never sent to clients. Any error
// from ReadMessage leaves the stream at an unknown position: the caller should
// close the connection after any error response. Errors from Validate concern
// a fully read message, so the connection stays in sync.
package wire
