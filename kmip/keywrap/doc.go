// Package keywrap implements AES Key Wrap (RFC 3394) and AES Key Wrap with
// Padding (RFC 5649) under a key-encryption key, the primitives behind the
// NIST Key Wrap and AES Key Wrap Padding block cipher modes of KMIP 1.4
// §2.1.5 Key Wrapping. Unwrapping checks integrity in constant time and
// clears the recovered bytes when the check fails.
package keywrap
