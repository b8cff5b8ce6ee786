//go:build cgo

package seal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
)

const (
	testToken = "kmsd-test"
	testPIN   = "1234"
)

// softHSM makes a fresh SoftHSM2 token in t.TempDir() and returns the
// module path. Without softhsm2 it skips, except under CI=true where a skip
// must not pass for a success.
func softHSM(t *testing.T) string {
	t.Helper()
	var module string
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		msg := "softhsm2 is not installed (apt-get install -y softhsm2)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", testToken, "--pin", testPIN, "--so-pin", "5678").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return module
}

func TestPKCS11Method(t *testing.T) {
	module := softHSM(t)
	opts := InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: module, TokenLabel: testToken, KeyLabel: "kmsd-unseal-test", PIN: testPIN}}
	c, _ := newTestCluster(t, opts)
	rec, err := ReadRecord(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	p := rec.PKCS11
	if p.Module != module || p.TokenLabel != testToken || p.KeyLabel != "kmsd-unseal-test" || len(p.KeyID) != hsmKeyIDSize || p.Mechanism != hsmMechanism {
		t.Fatalf("record params %+v", p)
	}
	checkRecordFile(t, c.dir, map[string][]byte{"root key": rootKey(t, c.b), "PIN": []byte(`"` + testPIN + `"`)})
	checkHSMKey(t, module, p)

	blob, err := c.b.SealObject(Binding{ID: "obj", Owner: "o"}, []byte("in the HSM's care"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unseal in a fresh barrier", func(t *testing.T) {
		b := NewBarrier(c.src)
		if err := b.UnsealPKCS11(c.dir, testPIN); err != nil {
			t.Fatal(err)
		}
		if pt, err := b.OpenObject(Binding{ID: "obj", Owner: "o"}, blob); err != nil || string(pt) != "in the HSM's care" {
			t.Fatalf("OpenObject: %q, %v", pt, err)
		}
	})
	t.Run("wrong PIN", func(t *testing.T) {
		b := NewBarrier(c.src)
		if err := b.UnsealPKCS11(c.dir, "9999"); !errors.Is(err, ErrWrongPIN) || !b.Sealed() {
			t.Fatalf("got %v, sealed %v; want ErrWrongPIN", err, b.Sealed())
		}
		if err := b.UnsealPKCS11(c.dir, ""); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("empty PIN: %v", err)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		if err := NewBarrier(c.src).UnsealFile(c.dir); !errors.Is(err, ErrWrongMethod) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tampered record", func(t *testing.T) {
		dir := t.TempDir()
		raw, _ := os.ReadFile(filepath.Join(c.dir, recordFile))
		rec, _ := parseRecord(raw)
		rec.raw = nil
		rec.WrappedRoot[nonceSize+1] ^= 1
		tampered, _ := rec.bytes()
		replaceFile(t, filepath.Join(dir, recordFile), tampered)
		b := NewBarrier(c.src)
		if err := b.UnsealPKCS11(dir, testPIN); !errors.Is(err, ErrHSM) || !b.Sealed() {
			t.Fatalf("got %v, sealed %v; want ErrHSM", err, b.Sealed())
		}
	})
	t.Run("second cluster reuses the labelled key", func(t *testing.T) {
		c2, _ := newTestCluster(t, opts)
		rec2, _ := ReadRecord(c2.dir)
		if string(rec2.PKCS11.KeyID) != string(p.KeyID) {
			t.Fatal("a second init made another key under the same label")
		}
		b := NewBarrier(c2.src)
		if err := b.UnsealPKCS11(c2.dir, testPIN); err != nil || b.ClusterID() != c2.b.ClusterID() {
			t.Fatalf("unseal the second cluster: %v", err)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		o := opts
		o.PKCS11.KeyLabel = "made-here"
		c3, _ := newTestCluster(t, o)
		deleteHSMKey(t, module, "made-here")
		if err := NewBarrier(c3.src).UnsealPKCS11(c3.dir, testPIN); !errors.Is(err, ErrHSM) {
			t.Fatalf("got %v, want ErrHSM", err)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		o := opts
		o.PKCS11.TokenLabel = "no-such-token"
		_, err := NewBarrier(newFakeSource()).Init(t.TempDir(), o)
		if !errors.Is(err, ErrHSM) || strings.Contains(err.Error(), testPIN+" ") {
			t.Fatalf("got %v, want ErrHSM", err)
		}
	})
}

// checkHSMKey checks that the wrapping key is an AES-256 key the token keeps
// to itself.
func checkHSMKey(t *testing.T, module string, p *PKCS11Params) {
	t.Helper()
	ctx, err := configureHSM(PKCS11Options{Module: module, TokenLabel: testToken, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer closeHSM(ctx)
	key, err := ctx.FindKey(p.KeyID, []byte(p.KeyLabel))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		typ  crypto11.AttributeType
		want byte
	}{{crypto11.CkaExtractable, 0}, {crypto11.CkaSensitive, 1}, {crypto11.CkaToken, 1}} {
		got, err := ctx.GetAttribute(key, a.typ)
		if err != nil || len(got.Value) != 1 || got.Value[0] != a.want {
			t.Fatalf("attribute %#x = %v, %v; want %d", a.typ, got, err, a.want)
		}
	}
	if l, err := ctx.GetAttribute(key, crypto11.CkaValueLen); err != nil || attrUint(l.Value) != keySize {
		t.Fatalf("key length %v, %v", l, err)
	}
}

func deleteHSMKey(t *testing.T, module, label string) {
	t.Helper()
	ctx, err := configureHSM(PKCS11Options{Module: module, TokenLabel: testToken, PIN: testPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer closeHSM(ctx)
	key, err := ctx.FindKey(nil, []byte(label))
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Delete(); err != nil {
		t.Fatal(err)
	}
}
