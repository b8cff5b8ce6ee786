// Package kmiperr holds the one error type that crosses from the stateless
// KMIP sub-packages (kmip/keyformat, kmip/certs, ...) to the front end: a
// failure meant for the client, carrying the KMIP Result Reason to answer
// and a short fixed message. Package kmip aliases it as kmip.Error.
package kmiperr
