// Command kmsctl is the operator's tool for kmsd. The `key` commands are a
// small KMIP client (create, register, get, locate, activate, revoke,
// destroy, attributes) over mutual TLS, built on ovh/kmip-go's message
// types and TTLV codec (see transport.go for why not its kmipclient).
//
// It talks to servers only through their public interfaces (KMIP here);
// it never touches storage directly.
package main
