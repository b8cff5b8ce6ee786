// Package conformance runs the OASIS KMIP 1.0–1.4 test vectors that ship with
// github.com/ovh/kmip-go (kmiptest/testdata) against a real KMIP server and
// compares every response with the recording.
//
// What it owns: parsing the vector files (KMIP XML encoding, KMIP 1.4 Profiles
// §5.4) into generic TTLV trees, substituting variables into requests, sending
// them as binary TTLV over one connection per vector, and the comparison rules.
// What it does not own: starting servers (see e2e/harness) or deciding which
// vectors must pass (e2e/testdata/conformance_pass.txt, checked by the test).
//
// Why it does not use ttlv.NewXMLDecoder directly: that decoder resolves enum
// names and bitmask names by the element's own tag, so an Attribute Value
// ("DES3", "Decrypt Encrypt") cannot be decoded generically, and it cannot keep
// "$VARIABLE" placeholders in Byte String or Date-Time fields. The parser here
// produces the same ttlv.Value trees, resolves Attribute Value names through the
// sibling Attribute Name, and keeps placeholders as Var and Now leaves.
//
// Comparison rules (see Session.Check):
//   - "$VAR" in an expected response binds the variable on first sight and must
//     match exactly afterwards; a "$VAR" in a request must already be bound.
//   - The header Time Stamp and free-text Result Message are ignored. Date-Times
//     recorded as $NOW±N must be within Tolerance; other recorded dates were
//     assigned by the recording server and only their type is checked.
//   - Values random by nature are checked by type and length: key material,
//     digests and big-integer components of objects the server generated (and
//     of keys wrapped under them), server-generated IVs and the ciphertext and
//     tag that depend on them, RNG output, Signature Data, MAC Data made with a
//     server-generated key.
//   - Discover Versions and Query responses may list more items than recorded
//     (order-insensitive subset); Query's Vendor Identification and Server
//     Information are server-specific and only checked for presence.
//   - KMIP does not order attributes: the Attributes of Get Attributes and
//     the Attribute Names of Get Attribute List are matched in any order,
//     with exact counts.
//   - Fields a conforming server MAY add (Located Items, KMIP 1.3+) are
//     accepted when the recording lacks them; a response header may carry
//     the request's protocol version where the recording shows another.
//   - Everything else is exact: tags, types, order, Result Status and Reason,
//     Operation, counts.
//
// Repairs to the vector files, applied when parsing or replaying: runs of
// spaces in text ("Cryptographic   Length", line-wrapping artifacts) are
// collapsed; enumeration names are matched ignoring case and underscores;
// a request variable that no recorded response binds ("$MAC_DATA") takes
// the server's latest value with that tag; the third parts of the
// storage-array and tape-library profile tests (SASED-M-3, TL-M-3) run on
// the objects of the second part (see ContinuesPrevious).
package conformance
