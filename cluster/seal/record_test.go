package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestFileMethod(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	keyPath := filepath.Join(c.dir, unsealKeyFile)
	unsealKey, err := os.ReadFile(keyPath)
	if err != nil || len(unsealKey) != keySize {
		t.Fatalf("unseal.key: %d bytes, %v", len(unsealKey), err)
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("unseal.key mode %04o", st.Mode().Perm())
	}
	checkRecordFile(t, c.dir, map[string][]byte{"root key": rootKey(t, c.b), "unseal key": unsealKey})
	rec, err := ReadRecord(c.dir)
	if err != nil || rec.Method != MethodFile || rec.ClusterID != c.b.ClusterID() {
		t.Fatalf("ReadRecord = %+v, %v", rec, err)
	}
	if _, err := c.b.Init(t.TempDir(), InitOptions{}); !errors.Is(err, ErrAlreadyUnsealed) {
		t.Fatalf("Init on an unsealed barrier: %v", err)
	}
	if _, err := NewBarrier(c.src).Init(c.dir, InitOptions{}); !errors.Is(err, ErrAlreadyInitialized) {
		t.Fatalf("second Init: %v", err)
	}
	if err := c.b.UnsealFile(c.dir); !errors.Is(err, ErrAlreadyUnsealed) {
		t.Fatalf("UnsealFile while unsealed: %v", err)
	}

	b := NewBarrier(c.src)
	if err := b.UnsealFile(c.dir); err != nil || b.ClusterID() != c.b.ClusterID() {
		t.Fatalf("UnsealFile: %v", err)
	}
	got, _ := b.Record()
	if want, _ := os.ReadFile(filepath.Join(c.dir, recordFile)); !bytes.Equal(got, want) {
		t.Fatal("Record() is not seal.json")
	}

	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  error
		text  string
	}{
		{"group-readable key", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, unsealKeyFile), 0o640) }, ErrKeyFileMode, "chmod 600"},
		{"world-readable key", func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, unsealKeyFile), 0o604) }, ErrKeyFileMode, "chmod 600"},
		{"another key", func(t *testing.T, dir string) {
			replaceFile(t, filepath.Join(dir, unsealKeyFile), bytes.Repeat([]byte{1}, keySize))
		}, ErrWrongUnsealKey, ""},
		{"short key", func(t *testing.T, dir string) { replaceFile(t, filepath.Join(dir, unsealKeyFile), make([]byte, 31)) }, ErrWrongUnsealKey, ""},
		{"long key", func(t *testing.T, dir string) {
			replaceFile(t, filepath.Join(dir, unsealKeyFile), append(unsealKey, 0))
		}, ErrWrongUnsealKey, ""},
		{"missing key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, unsealKeyFile)) }, nil, "restore the unseal.key"},
		{"missing record", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, recordFile)) }, ErrNoRecord, ""},
		{"passphrase record", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, recordFile))
			os.Remove(filepath.Join(dir, unsealKeyFile))
			if _, err := NewBarrier(c.src).Init(dir, InitOptions{Method: MethodPassphrase, Passphrase: []byte("long enough"), Argon2: cheapArgon}); err != nil {
				t.Fatal(err)
			}
		}, ErrWrongMethod, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, c.dir, dir)
			tt.setup(t, dir)
			b := NewBarrier(c.src)
			err := b.UnsealFile(dir)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("UnsealFile = %v, want %v containing %q", err, tt.want, tt.text)
			}
			if !b.Sealed() {
				t.Fatal("a failed unseal unsealed the barrier")
			}
		})
	}
	t.Run("stale unseal.key", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, c.dir, dir)
		os.Remove(filepath.Join(dir, recordFile))
		if _, err := NewBarrier(c.src).Init(dir, InitOptions{}); !errors.Is(err, ErrStaleUnsealKey) {
			t.Fatalf("Init over a stale unseal.key: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, unsealKeyFile)); !bytes.Equal(got, unsealKey) {
			t.Fatal("Init overwrote an existing unseal.key")
		}
	})
}

func TestPassphraseMethod(t *testing.T) {
	pass := []byte("correct horse battery staple")
	c, _ := newTestCluster(t, InitOptions{Method: MethodPassphrase, Passphrase: pass, Argon2: cheapArgon})
	rec, err := ReadRecord(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	p := rec.Passphrase
	if p.Time != 1 || p.MemoryKiB != 64 || p.Threads != 1 || len(p.Salt) != saltSize {
		t.Fatalf("passphrase params %+v", p.Argon2Params)
	}
	unsealKey := argon2.IDKey(pass, p.Salt, p.Time, p.MemoryKiB, p.Threads, keySize)
	checkRecordFile(t, c.dir, map[string][]byte{"root key": rootKey(t, c.b), "unseal key": unsealKey, "passphrase": pass})
	before, _ := os.ReadFile(filepath.Join(c.dir, recordFile))

	for _, wrong := range [][]byte{[]byte("correct horse battery stapler"), nil, []byte("Correct horse battery staple")} {
		b := NewBarrier(c.src)
		if err := b.UnsealPassphrase(c.dir, wrong); !errors.Is(err, ErrWrongPassphrase) || !b.Sealed() {
			t.Fatalf("wrong passphrase: %v, sealed %v", err, b.Sealed())
		}
	}
	if after, _ := os.ReadFile(filepath.Join(c.dir, recordFile)); !bytes.Equal(before, after) {
		t.Fatal("a wrong passphrase changed seal.json")
	}
	b := NewBarrier(c.src)
	if err := b.UnsealPassphrase(c.dir, pass); err != nil || b.ClusterID() != c.b.ClusterID() {
		t.Fatalf("right passphrase: %v", err)
	}
	if err := NewBarrier(c.src).UnsealFile(c.dir); !errors.Is(err, ErrWrongMethod) {
		t.Fatalf("UnsealFile on a passphrase record: %v", err)
	}
	// The defaults are the documented ones.
	if d := (Argon2Params{}).withDefaults(); d != (Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4}) {
		t.Fatalf("default Argon2 parameters %+v", d)
	}
}

func TestInitOptions(t *testing.T) {
	tests := []struct {
		name string
		opts InitOptions
		want error
	}{
		{"unknown method", InitOptions{Method: "vault"}, ErrBadOptions},
		{"short passphrase", InitOptions{Method: MethodPassphrase, Passphrase: []byte("1234567"), Argon2: cheapArgon}, ErrWeakPassphrase},
		{"no passphrase", InitOptions{Method: MethodPassphrase}, ErrWeakPassphrase},
		{"argon2 too much memory", InitOptions{Method: MethodPassphrase, Passphrase: []byte("12345678"), Argon2: Argon2Params{MemoryKiB: 5 << 20}}, ErrBadOptions},
		{"argon2 memory below 8 KiB a thread", InitOptions{Method: MethodPassphrase, Passphrase: []byte("12345678"), Argon2: Argon2Params{Time: 1, MemoryKiB: 16, Threads: 4}}, ErrBadOptions},
		{"shamir no shares", InitOptions{Method: MethodShamir}, ErrBadOptions},
		{"shamir threshold above shares", InitOptions{Method: MethodShamir, Shares: 3, Threshold: 4}, ErrBadOptions},
		{"shamir threshold 1 of 3", InitOptions{Method: MethodShamir, Shares: 3, Threshold: 1}, ErrBadOptions},
		{"shamir 17 shares", InitOptions{Method: MethodShamir, Shares: 17, Threshold: 3}, ErrBadOptions},
		{"shamir threshold 0", InitOptions{Method: MethodShamir, Shares: 1, Threshold: 0}, ErrBadOptions},
		{"pkcs11 relative module", InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: "libsofthsm2.so", TokenLabel: "t", PIN: "1"}}, ErrBadOptions},
		{"pkcs11 no token", InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: "/x.so", PIN: "1"}}, ErrBadOptions},
		{"pkcs11 label and slot", InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: "/x.so", TokenLabel: "t", Slot: new(int), PIN: "1"}}, ErrBadOptions},
		{"pkcs11 no PIN", InitOptions{Method: MethodPKCS11, PKCS11: PKCS11Options{Module: "/x.so", TokenLabel: "t"}}, ErrBadOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := NewBarrier(newFakeSource())
			_, err := b.Init(dir, tt.opts)
			if err == nil || (!errors.Is(err, tt.want) && !errors.Is(err, ErrNoCgo)) {
				t.Fatalf("Init = %v, want %v", err, tt.want)
			}
			if !b.Sealed() {
				t.Fatal("a failed Init unsealed the barrier")
			}
			if _, err := ReadRecord(dir); !errors.Is(err, ErrNoRecord) {
				t.Fatalf("a failed Init left a record: %v", err)
			}
		})
	}
}

// TestRecordValidation feeds malformed seal.json files to ReadRecord.
func TestRecordValidation(t *testing.T) {
	good := map[Method][]byte{}
	for m, opts := range map[Method]InitOptions{
		MethodFile:       {},
		MethodPassphrase: {Method: MethodPassphrase, Passphrase: []byte("12345678"), Argon2: cheapArgon},
		MethodShamir:     {Method: MethodShamir, Shares: 3, Threshold: 2},
	} {
		c, _ := newTestCluster(t, opts)
		good[m], _ = os.ReadFile(filepath.Join(c.dir, recordFile))
	}
	edit := func(m Method, f func(map[string]any)) []byte {
		var v map[string]any
		if err := json.Unmarshal(good[m], &v); err != nil {
			t.Fatal(err)
		}
		f(v)
		b, _ := json.Marshal(v)
		return b
	}
	sub := func(v map[string]any, k string) map[string]any { return v[k].(map[string]any) }
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"not json", []byte("not json")},
		{"trailing data", append(bytes.Clone(good[MethodFile]), []byte(`{}`)...)},
		{"too large", bytes.Repeat([]byte(" "), maxRecordSize+1)},
		{"unknown field", edit(MethodFile, func(v map[string]any) { v["root_key"] = "AAAA" })},
		{"format 2", edit(MethodFile, func(v map[string]any) { v["format"] = 2 })},
		{"unknown method", edit(MethodFile, func(v map[string]any) { v["method"] = "vault" })},
		{"upper-case cluster id", edit(MethodFile, func(v map[string]any) { v["cluster_id"] = strings.ToUpper(v["cluster_id"].(string)) })},
		{"short cluster id", edit(MethodFile, func(v map[string]any) { v["cluster_id"] = "abcd" })},
		{"short wrapped root", edit(MethodFile, func(v map[string]any) { v["wrapped_root"] = "AAAA" })},
		{"no wrapped root", edit(MethodFile, func(v map[string]any) { delete(v, "wrapped_root") })},
		{"another method's params", edit(MethodFile, func(v map[string]any) { v["shamir"] = map[string]any{"shares": 1} })},
		{"passphrase without params", edit(MethodPassphrase, func(v map[string]any) { delete(v, "passphrase") })},
		{"short salt", edit(MethodPassphrase, func(v map[string]any) { sub(v, "passphrase")["salt"] = "AAAA" })},
		{"argon2 time 0", edit(MethodPassphrase, func(v map[string]any) { sub(v, "passphrase")["time"] = 0 })},
		{"argon2 memory 1 TiB", edit(MethodPassphrase, func(v map[string]any) { sub(v, "passphrase")["memory_kib"] = 1 << 30 })},
		{"argon2 threads 300", edit(MethodPassphrase, func(v map[string]any) { sub(v, "passphrase")["threads"] = 300 })},
		{"shamir threshold above shares", edit(MethodShamir, func(v map[string]any) { sub(v, "shamir")["threshold"] = 4 })},
		{"shamir 1 commitment", edit(MethodShamir, func(v map[string]any) {
			sub(v, "shamir")["commitments"] = sub(v, "shamir")["commitments"].([]any)[:1]
		})},
		{"shamir bad commitment", edit(MethodShamir, func(v map[string]any) { sub(v, "shamir")["commitments"].([]any)[0] = "AAAA" })},
		{"shamir other group", edit(MethodShamir, func(v map[string]any) { sub(v, "shamir")["group"] = "P-256" })},
		{"pkcs11 relative module", edit(MethodFile, func(v map[string]any) {
			v["method"] = "pkcs11"
			v["pkcs11"] = map[string]any{"module": "x.so", "token_label": "t", "key_label": "k", "key_id": "AAAA", "mechanism": hsmMechanism}
		})},
		{"pkcs11 other mechanism", edit(MethodFile, func(v map[string]any) {
			v["method"] = "pkcs11"
			v["pkcs11"] = map[string]any{"module": "/x.so", "token_label": "t", "key_label": "k", "key_id": "AAAA", "mechanism": "CKM_AES_CBC"}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			replaceFile(t, filepath.Join(dir, recordFile), tt.raw)
			if rec, err := ReadRecord(dir); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("ReadRecord = %+v, %v; want ErrBadRecord", rec, err)
			}
		})
	}
	for m, raw := range good {
		if _, err := parseRecord(raw); err != nil {
			t.Fatalf("good %s record refused: %v", m, err)
		}
	}
	if _, err := ReadRecord(t.TempDir()); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("ReadRecord of an empty folder: %v", err)
	}
}

func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	os.Remove(path)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for _, name := range []string{recordFile, unsealKeyFile} {
		data, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			continue
		}
		replaceFile(t, filepath.Join(to, name), data)
	}
}
