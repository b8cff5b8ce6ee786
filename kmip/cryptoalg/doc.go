// Package cryptoalg holds the cryptographic primitives behind the KMIP
// operations Encrypt, Decrypt, Sign, Signature Verify, MAC, MAC Verify, Hash,
// RNG Retrieve and Derive Key. It knows nothing of the server: callers pass
// Go key types or key bytes, data, and the KMIP enumerations of
// github.com/ovh/kmip-go, and get bytes or an error back.
//
// A request flows through it in two steps:
//
//  1. Resolve: ResolveCipher, ResolveRSACipher, ResolveSignature, ResolveMAC,
//     ResolveHash turn a (possibly nil or partial) kmip.CryptographicParameters
//     and the key's algorithm and length into a validated spec, or refuse the
//     combination with an *Error that names the KMIP fields at fault.
//  2. Run: one-shot functions (Encrypt, Decrypt, Sign, Verify, ComputeMAC, ...)
//     or, for KMIP 1.3 streaming (Init Indicator / Final Indicator /
//     Correlation Value), the stream types (Encrypter, Decrypter, Signer,
//     Verifier, MAC, Hasher) whose Update/Final calls the server keeps per
//     correlation value. One-shot functions are thin wrappers of the streams.
//
// Errors: every error is an *Error whose Kind is one of the sentinels
// (ErrInvalidParameters, ErrUnsupported, ErrInvalidKey, ErrInvalidData,
// ErrAuthentication, ErrLimit, ErrFinished), so errors.Is works, and whose
// Reason is a sentence safe to return to a client: it never holds key
// bytes or the text of an underlying library error.
//
// Key material: streams build their cipher or MAC when they are created and
// keep no copy of the caller's key bytes, which stay the caller's to zero.
// Wipe (called by Final too, and after a failed Update) zeroes every buffer
// of pending data and the CMAC subkeys. The expanded key schedules that
// crypto/aes, crypto/des and crypto/hmac hold inside their own values cannot
// be reached and are left to the garbage collector.
//
// Adding an algorithm is one file: extend the table the resolver reads (for
// example modes in cipher_spec.go or hashes in hash.go) and add its
// known-answer tests from testdata/ (see testdata/README.md for sources).
package cryptoalg
