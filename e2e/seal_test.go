package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/e2e/harness"
)

const sealedMessage = "this key server is sealed or has not joined"

// secretFile writes a 0600 file holding s.
func secretFile(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sealState asks node i for its seal status.
func sealState(t *testing.T, c *harness.Cluster, i int) (sealed bool, progress int) {
	t.Helper()
	out, err := c.AdminCtl(t, i, "-o", "json", "operator", "seal-status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Sealed   bool `json:"sealed"`
		Progress int  `json:"progress"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("seal-status %q: %v", out, err)
	}
	return st.Sealed, st.Progress
}

// wantSealed checks that node i is sealed and refuses KMIP with the sealed
// message, and that status says so.
func wantSealed(t *testing.T, c *harness.Cluster, i int, id string) {
	t.Helper()
	if sealed, _ := sealState(t, c, i); !sealed {
		t.Fatal("the node is not sealed")
	}
	if out, err := c.Kmsctl(t, i, "key", "get", id); err == nil || !strings.Contains(err.Error(), sealedMessage) {
		t.Errorf("key get on a sealed node: %q, %v; want a refusal saying it is sealed", out, err)
	}
	if out, _ := c.AdminCtl(t, i, "status"); !strings.Contains(out, "sealed") {
		t.Errorf("status of a sealed node: %q", out)
	}
}

// waitServing waits until node i serves key get for id after an unseal.
func waitServing(t *testing.T, c *harness.Cluster, i int, id string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.Kmsctl(t, i, "-o", "json", "key", "get", id)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not serve after unsealing: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func createAES(t *testing.T, c *harness.Cluster, i int) string {
	t.Helper()
	out, err := c.Kmsctl(t, i, "key", "create", "--alg", "AES", "--length", "256")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestPassphraseNodeRestartsSealed: a node whose root key is protected by a
// passphrase unseals at start when given it, restarts sealed without it,
// refuses a wrong passphrase, unseals with the right one and serves the
// same key material.
func TestPassphraseNodeRestartsSealed(t *testing.T) {
	const pass = "correct horse battery staple"
	c := harness.StartCluster(t, 1, harness.WithArgs("--seal", "passphrase"), harness.WithEnv("KMSD_UNSEAL_PASSPHRASE="+pass))
	id := createAES(t, c, 0)
	before, err := c.Kmsctl(t, 0, "-o", "json", "key", "get", id)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[0]
	n.Stop()
	n.Env = nil
	n.Restart(t)
	wantSealed(t, c, 0, id)

	if _, err := c.AdminCtl(t, 0, "operator", "unseal", "--passphrase-file", secretFile(t, "wrong horse battery staple")); err == nil ||
		!strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("a wrong passphrase: %v", err)
	}
	wantSealed(t, c, 0, id)
	if _, err := c.AdminCtl(t, 0, "operator", "unseal", "--passphrase-file", secretFile(t, pass)); err != nil {
		t.Fatal(err)
	}
	if after := waitServing(t, c, 0, id); after != before {
		t.Errorf("after unsealing the key reads\n%s\nnot\n%s", after, before)
	}
}

// TestShamirUnsealNeedsThreshold: with 5 shares and a threshold of 3, two
// shares leave the node sealed, a mangled or repeated share is refused and
// not counted, the third unseals it; `operator seal` seals it again and
// three other shares unseal it again.
func TestShamirUnsealNeedsThreshold(t *testing.T) {
	c := harness.StartCluster(t, 1, harness.WithInit("--seal", "shamir", "--key-shares", "5", "--key-threshold", "3"))
	shares := regexp.MustCompile(`share \d: (\S+)`).FindAllStringSubmatch(c.InitOutput, -1)
	if len(shares) != 5 {
		t.Fatalf("kmsd init printed %d shares:\n%s", len(shares), c.InitOutput)
	}
	unseal := func(share string) error {
		_, err := c.AdminCtl(t, 0, "operator", "unseal", "--share-file", secretFile(t, share))
		return err
	}
	wantSealed(t, c, 0, "no-such-key")
	for i, want := range []int{1, 2} {
		if err := unseal(shares[i][1]); err != nil {
			t.Fatal(err)
		}
		if sealed, progress := sealState(t, c, 0); !sealed || progress != want {
			t.Fatalf("after %d shares: sealed %v, progress %d", i+1, sealed, progress)
		}
	}
	wantSealed(t, c, 0, "no-such-key")
	// One character changed in the middle of the value: still well formed,
	// but another share.
	third := shares[2][1]
	pos := len(third) - 10
	swap := byte('A')
	if third[pos] == 'A' {
		swap = 'B'
	}
	mangled := third[:pos] + string(swap) + third[pos+1:]
	for _, bad := range []string{mangled, shares[1][1], "kmsd-share1.00000000.3.AAAA"} {
		if err := unseal(bad); err == nil {
			t.Errorf("share %q was accepted", bad)
		}
	}
	if _, progress := sealState(t, c, 0); progress != 2 {
		t.Errorf("refused shares changed the progress to %d", progress)
	}
	if err := unseal(shares[2][1]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var id string
	for id == "" {
		if out, err := c.Kmsctl(t, 0, "key", "create", "--alg", "AES", "--length", "256"); err == nil {
			id = strings.TrimSpace(out)
		} else if time.Now().After(deadline) {
			t.Fatalf("the unsealed node does not serve: %v", err)
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	before := waitServing(t, c, 0, id)

	if _, err := c.AdminCtl(t, 0, "operator", "seal"); err != nil {
		t.Fatal(err)
	}
	wantSealed(t, c, 0, id)
	for _, s := range shares[2:] {
		if err := unseal(s[1]); err != nil {
			t.Fatal(err)
		}
	}
	if after := waitServing(t, c, 0, id); after != before {
		t.Errorf("after sealing and unsealing the key reads\n%s\nnot\n%s", after, before)
	}
}

// TestPKCS11Seal protects the root key with an AES key in SoftHSM2: the node
// unseals at start with the PIN, restarts sealed without it, and unseals
// with `operator unseal --pin-file`.
func TestPKCS11Seal(t *testing.T) {
	module := "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := exec.LookPath("softhsm2-util"); err != nil || !fileExists(module) {
		if os.Getenv("CI") == "true" {
			t.Fatal("softhsm2 is not installed; .ci/run installs it")
		}
		t.Skip("softhsm2 is not installed (apt-get install softhsm2)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+dir+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := "SOFTHSM2_CONF=" + conf
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "kmsd-e2e", "--pin", "1234", "--so-pin", "5678")
	cmd.Env = append(os.Environ(), env)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	c := harness.StartCluster(t, 1,
		harness.WithArgs("--seal", "pkcs11", "--pkcs11-module", module, "--pkcs11-token", "kmsd-e2e"),
		harness.WithEnv(env, "KMSD_PKCS11_PIN=1234"))
	id := createAES(t, c, 0)
	before, err := c.Kmsctl(t, 0, "-o", "json", "key", "get", id)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[0]
	n.Stop()
	n.Env = []string{env}
	n.Restart(t)
	wantSealed(t, c, 0, id)
	if _, err := c.AdminCtl(t, 0, "operator", "unseal", "--pin-file", secretFile(t, "9999")); err == nil {
		t.Fatal("a wrong PIN unsealed")
	}
	if _, err := c.AdminCtl(t, 0, "operator", "unseal", "--pin-file", secretFile(t, "1234")); err != nil {
		t.Fatal(err)
	}
	if after := waitServing(t, c, 0, id); after != before {
		t.Errorf("after unsealing the key reads\n%s\nnot\n%s", after, before)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestFileSealSealAndUnseal: a node on the file seal can be sealed on
// purpose, and unseals from its own key file with no input.
func TestFileSealSealAndUnseal(t *testing.T) {
	c := harness.StartCluster(t, 1)
	c.Leader(t)
	id := createAES(t, c, 0)
	before := waitServing(t, c, 0, id)
	if _, err := c.AdminCtl(t, 0, "operator", "seal"); err != nil {
		t.Fatal(err)
	}
	wantSealed(t, c, 0, id)
	if _, err := c.AdminCtl(t, 0, "operator", "unseal"); err != nil {
		t.Fatal(err)
	}
	if after := waitServing(t, c, 0, id); after != before {
		t.Errorf("after unsealing the key reads\n%s\nnot\n%s", after, before)
	}
}
