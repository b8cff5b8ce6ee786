// Package denylist is the certificate deny list as the TLS layers use it: an
// entry names a certificate by its SHA-256 fingerprint or by its issuer
// (the SHA-256 of the issuing CA certificate) and serial number; a List
// finds the entries that a verified chain hits; a Checker refuses such a
// handshake (tls.Config.VerifyConnection); Conns tracks open connections
// and closes those whose chains a new list refuses; ParseCRL turns a CRL
// signed by a trusted CA into entries.
//
// The entries themselves are replicated state (package fsm); this package
// holds no state of the cluster's and knows nothing of KMIP or Raft.
package denylist
