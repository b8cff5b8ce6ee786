package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/e2e/harness"
)

// keyAs runs a kmsctl key command through node i with a client
// certificate.
func keyAs(t *testing.T, c *harness.Cluster, i int, cert, key string, args ...string) (string, error) {
	t.Helper()
	return c.Nodes[i].KmsctlAs(t, cert, key, append([]string{"key"}, args...)...)
}

func createAs(t *testing.T, c *harness.Cluster, i int, cert, key string) string {
	t.Helper()
	out, err := keyAs(t, c, i, cert, key, "create", "--alg", "AES", "--length", "256", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID == "" {
		t.Fatalf("key create: %q (%v)", out, err)
	}
	return r.ID
}

// TestPolicyAcrossNodes: on three real nodes, a binding set through one
// node puts two hosts' certificates into one tenant on every node; the
// user role destroys only its own keys, a read-only identity reads and
// writes nothing, and an identity no binding names stays a tenant of its
// own.
func TestPolicyAcrossNodes(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart())
	pki := c.Nodes[0].PKI
	esx1, esx1Key := pki.ClientCertFor(t, "esx1", "esx1.vsphere.example.com")
	esx2, esx2Key := pki.ClientCertFor(t, "esx2", "esx2.vsphere.example.com")
	reader, readerKey := pki.ClientCertFor(t, "auditor")

	before := createAs(t, c, 0, esx1, esx1Key)
	if _, err := keyAs(t, c, 1, esx2, esx2Key, "get", before); err == nil || !strings.Contains(err.Error(), "item not found") {
		t.Fatalf("without a policy another host reads esx1's key: %v", err)
	}

	if _, err := c.AdminCtl(t, 2, "policy", "set", "--name", "vsphere-hosts", "--tenant", "vsphere", "--role", "user",
		"--ca-file", pki.CA, "--dns", "*.vsphere.example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AdminCtl(t, 1, "policy", "set", "--name", "auditors", "--tenant", "vsphere", "--role", "read-only",
		"--ca-file", pki.CA, "--cn", "auditor"); err != nil {
		t.Fatal(err)
	}
	shared := createAs(t, c, 0, esx1, esx1Key)
	for i := range 3 {
		if _, err := keyAs(t, c, i, esx2, esx2Key, "get", shared); err != nil {
			t.Errorf("esx2 cannot read esx1's key in their tenant through %s: %v", c.Nodes[i].Name, err)
		}
		if _, err := keyAs(t, c, i, reader, readerKey, "get", shared); err != nil {
			t.Errorf("the auditor cannot read through %s: %v", c.Nodes[i].Name, err)
		}
	}
	// The key made before the binding stays in esx1's own tenant.
	if _, err := keyAs(t, c, 1, esx1, esx1Key, "get", before); err == nil {
		t.Error("a key of esx1's former tenant is visible in its new one")
	}
	if _, err := keyAs(t, c, 1, esx2, esx2Key, "destroy", shared); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("esx2 destroyed esx1's key: %v", err)
	}
	if _, err := keyAs(t, c, 2, reader, readerKey, "create", "--alg", "AES", "--length", "128"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the read-only identity created a key: %v", err)
	}
	if _, err := keyAs(t, c, 2, esx1, esx1Key, "destroy", shared); err != nil {
		t.Errorf("esx1 cannot destroy its own key: %v", err)
	}
	// The dev client certificate is named by no binding.
	if _, err := c.Kmsctl(t, 0, "key", "get", shared); err == nil {
		t.Error("an unbound identity reads the vsphere tenant's key")
	}
}
