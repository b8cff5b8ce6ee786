// Package devpki creates and reuses a development PKI for kmsd and kmsctl:
// a self-signed CA, a server certificate (also used by nodes to dial each
// other), a client certificate and an admin client certificate.
//
// It owns the files in one directory and the tls.Config values built from
// them. It is for `kmsd dev`, tests and local experiments only: keys are
// written unencrypted (mode 0600) and there is no revocation or rotation.
// Production deployments bring their own PKI.
package devpki
