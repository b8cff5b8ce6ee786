// Package devpki creates and reuses a development PKI for kmsd and kmsctl,
// with one CA per trust domain, as kmsd expects:
//
//	ca.pem, ca.key              KMIP CA: signs the KMIP server certificate
//	server.pem, server.key        and KMIP client certificates
//	client.pem, client.key
//	admin-ca.pem, admin-ca.key  admin CA: signs operators' certificates
//	admin.pem, admin.key          (Organization kmsd-admins)
//	node-ca.pem, node-ca.key    node CA: signs one certificate per node,
//	nodes/<id>.pem, <id>.key      naming its node id (urn:kmsd:node:<id>)
//	gossip.key                  32 random bytes shared by the nodes
//
// It owns the files in one directory, an in-memory Authority for tests, and
// the tls.Config values built from them. It is for `kmsd dev`, tests and
// local experiments only: keys are written unencrypted (mode 0600) and there
// is no revocation or rotation. Production deployments bring their own PKI.
package devpki
