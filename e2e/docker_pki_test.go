package e2e_test

import (
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// dockerPKI is the development PKI of `kmsd dev`, with its three CAs, a
// KMIP server certificate valid for the containers' addresses, and one node
// certificate per container, valid for its address: nodes verify each other
// by the IP they dial. The parent of Dir works as kmsctl's --dev-dir.
type dockerPKI struct {
	harness.PKI
	Dir string
}

func writeDockerPKI(t *testing.T, dir string, nodes []*dockerNode) dockerPKI {
	t.Helper()
	hosts := make([]string, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.ip.String()
	}
	p := harness.WritePKI(t, dir, hosts...)
	for _, n := range nodes {
		p.NodeCert(t, n.id, n.ip.String())
	}
	return dockerPKI{PKI: p, Dir: dir}
}
