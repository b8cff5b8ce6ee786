package harness

import (
	"testing"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// WritePKI writes a development PKI into dir exactly as `kmsd dev` does
// (ca.pem, server.pem/key with Organization kmsd-nodes, client.pem/key,
// admin.pem/key with Organization kmsd-admins, gossip.key), so that
// `kmsctl --dev-dir` finds it in <parent>/pki. The server certificate is
// valid for localhost, 127.0.0.1, ::1 and hosts, for both TLS roles, since
// nodes also dial each other.
func WritePKI(t testing.TB, dir string, hosts ...string) PKI {
	t.Helper()
	p, err := devpki.Ensure(dir, hosts...)
	if err != nil {
		t.Fatalf("harness: PKI: %v", err)
	}
	return PKI{
		CA: p.CACert, ServerCert: p.ServerCert, ServerKey: p.ServerKey,
		ClientCert: p.ClientCert, ClientKey: p.ClientKey,
		AdminCert: p.AdminCert, AdminKey: p.AdminKey, GossipKey: p.GossipKey,
	}
}
