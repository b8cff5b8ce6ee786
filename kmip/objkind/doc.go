// Package objkind is the registry of the managed object types this server
// stores (KMIP 1.4 §2.2): for each, the first protocol version that may
// register it, how a registered object is checked, which attributes the
// server derives from it and how it converts to another Key Format Type.
//
// The registry is filled once, from init functions (kmip/kinds.go), and only
// read afterwards; the checks themselves live in the packages that know the
// formats (kmip/keyformat, kmip/certs, kmip/pgp, kmip/splitkey).
package objkind
