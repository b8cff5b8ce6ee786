// Package pgp checks registered PGP Key objects (KMIP 1.2+, KMIP 1.4
// §2.2.9): a version the server accepts, Raw or Opaque material that is an
// ASCII-armored or binary OpenPGP key of bounded size, and algorithm and
// length attributes that agree with the key block. The key itself is kept
// as registered and never parsed further.
package pgp
