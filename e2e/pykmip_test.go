package e2e_test

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// pykmip is Debian's python3-pykmip; the pyenv python3 that may come first on
// PATH does not have it.
const pykmipPython = "/usr/bin/python3"

func requirePyKMIP(t *testing.T) {
	t.Helper()
	if err := exec.Command(pykmipPython, "-c", "import kmip").Run(); err != nil {
		t.Skipf("PyKMIP is not installed (apt-get install python3-pykmip): %v", err)
	}
}

// TestPyKMIPClient drives a real kmsd with the PyKMIP 0.10 client in every
// protocol version it speaks: create, activate, get, get attributes, locate,
// register secret data, revoke, destroy.
func TestPyKMIPClient(t *testing.T) {
	requirePyKMIP(t)
	node := harness.StartDev(t, "")
	host, port, err := net.SplitHostPort(node.KMIPAddr)
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "pykmip_smoke.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"1.0", "1.1", "1.2", "1.3", "1.4"} {
		t.Run(version, func(t *testing.T) {
			cmd := exec.Command(pykmipPython, script, host, port, node.PKI.CA, node.PKI.ClientCert, node.PKI.ClientKey, version)
			out, err := cmd.Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("pykmip: %v\n%s", err, stderr)
			}
			var got struct {
				Created         string   `json:"created"`
				KeyLen          int      `json:"key_len"`
				State           string   `json:"state"`
				Located         []string `json:"located"`
				SecretRoundtrip bool     `json:"secret_roundtrip"`
				Destroyed       bool     `json:"destroyed"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("pykmip output %q: %v", out, err)
			}
			if got.KeyLen != 32 || got.State != "State.ACTIVE" || !got.SecretRoundtrip || !got.Destroyed {
				t.Errorf("unexpected PyKMIP results: %+v", got)
			}
			if len(got.Located) != 1 || got.Located[0] != got.Created {
				t.Errorf("Locate by name returned %v, want [%s]", got.Located, got.Created)
			}
		})
	}
}
