// Package certs checks registered Certificate objects (KMIP 1.4 §2.2.1) and
// derives the attributes that KMIP 1.4 §3.8–3.16 says "SHALL be set by the
// server" from an X.509 certificate: type, length, identifier, subject,
// issuer, digital signature algorithm and the public key's length. It knows
// nothing of the service that stores them; version gating of the derived
// attributes is the caller's.
package certs
