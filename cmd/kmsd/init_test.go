package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/cluster/seal"
)

func TestInitShamirPrintsSharesOnce(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := runInit([]string{"--data-dir", dir, "--seal", "shamir", "--key-shares", "5", "--key-threshold", "3"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	shares := regexp.MustCompile(`share \d: (\S+)`).FindAllStringSubmatch(out.String(), -1)
	if len(shares) != 5 {
		t.Fatalf("%d shares printed, want 5:\n%s", len(shares), out.String())
	}
	rec, err := seal.ReadRecord(dir)
	if err != nil || rec.Method != seal.MethodShamir || rec.Shamir.Threshold != 3 {
		t.Fatalf("record %+v, %v", rec, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "seal.json"))
	for _, s := range shares {
		if bytes.Contains(data, []byte(s[1])) {
			t.Error("seal.json holds a share")
		}
	}
	// Exactly the threshold unseals.
	b := seal.NewBarrier(nil)
	for i, s := range shares[:3] {
		remaining, err := b.SubmitShare(rec, s[1])
		if err != nil || remaining != 2-i {
			t.Fatalf("share %d: remaining %d, %v", i+1, remaining, err)
		}
	}
	if b.Sealed() {
		t.Fatal("three shares did not unseal")
	}
	// A second init of the same folder is refused and changes nothing.
	if err := runInit([]string{"--data-dir", dir, "--seal", "file"}, &out, &errOut); err == nil {
		t.Error("init of an initialised folder succeeded")
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "seal.json")); !bytes.Equal(again, data) {
		t.Error("a refused init changed seal.json")
	}
}

func TestInitPassphrase(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	t.Setenv(envUnsealPassphrase, "")
	err := runInit([]string{"--data-dir", dir, "--seal", "passphrase"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "needs a passphrase") {
		t.Fatalf("init without a passphrase: %v", err)
	}
	loose := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(loose, []byte("correct horse battery\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = runInit([]string{"--data-dir", dir, "--seal", "passphrase", "--unseal-passphrase-file", loose}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a passphrase file readable by others: %v", err)
	}
	t.Setenv(envUnsealPassphrase, "correct horse battery")
	if err := runInit([]string{"--data-dir", dir, "--seal", "passphrase"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	b := seal.NewBarrier(nil)
	if err := b.UnsealPassphrase(dir, []byte("wrong horse battery")); err == nil {
		t.Error("a wrong passphrase unsealed")
	}
	if err := b.UnsealPassphrase(dir, []byte("correct horse battery")); err != nil {
		t.Errorf("the passphrase does not unseal: %v", err)
	}
}

func TestInitRefusesBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--seal", "rot13"},
		{"--seal", "shamir", "--key-shares", "2", "--key-threshold", "3"},
		{"--seal", "pkcs11"},
		{},
	} {
		var out, errOut bytes.Buffer
		full := args
		if len(args) > 0 {
			full = append([]string{"--data-dir", t.TempDir()}, args...)
		}
		if err := runInit(full, &out, &errOut); err == nil {
			t.Errorf("kmsd init %v succeeded", full)
		}
	}
}
