package e2e_test

import (
	"net"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// dockerPKI is the development PKI of `kmsd dev`, whose server certificate
// is also valid for the containers' addresses: nodes verify each other by
// the IP they dial. The parent of Dir works as kmsctl's --dev-dir.
type dockerPKI struct {
	harness.PKI
	Dir string
}

func writeDockerPKI(t *testing.T, dir string, ips ...net.IP) dockerPKI {
	t.Helper()
	hosts := make([]string, len(ips))
	for i, ip := range ips {
		hosts[i] = ip.String()
	}
	return dockerPKI{PKI: harness.WritePKI(t, dir, hosts...), Dir: dir}
}
