// Package keyformat holds the stateless code of key objects: Key Blocks and
// their Key Format Types (KMIP 1.4 §2.1.3, §9.1.3.2.3), conversions between
// formats for Get, the facts a key's material states about itself
// (algorithm family, size, curve), the checks Register applies to public
// and private keys, digests (§3.17), and the TTLV encoding of a Key Value
// that key wrapping encrypts (§2.1.5).
//
// It knows nothing of the service, its requests or the state machine. The
// errors meant for a client are *kmiperr.Error values carrying a KMIP
// Result Reason; every other error is internal.
package keyformat
