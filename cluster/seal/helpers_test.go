package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// fakeSource is the replicated keyring, in memory.
type fakeSource struct {
	mu   sync.Mutex
	keys map[uint32][]byte
}

func newFakeSource() *fakeSource { return &fakeSource{keys: map[uint32][]byte{}} }

func (f *fakeSource) DataKey(v uint32) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[v]
	return slices.Clone(k), ok
}

func (f *fakeSource) LatestDataKey() (uint32, []byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var latest uint32
	for v := range f.keys {
		latest = max(latest, v)
	}
	k, ok := f.keys[latest]
	return latest, slices.Clone(k), ok
}

func (f *fakeSource) put(v uint32, sealed []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[v] = sealed
}

func (f *fakeSource) retire(v uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, v)
}

// cheapArgon keeps passphrase tests fast.
var cheapArgon = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// testCluster is an initialized barrier (file method) with data key 1.
type testCluster struct {
	b   *Barrier
	src *fakeSource
	dir string
}

func newTestCluster(t testing.TB, opts InitOptions) (*testCluster, []string) {
	t.Helper()
	c := &testCluster{src: newFakeSource(), dir: t.TempDir()}
	c.b = NewBarrier(c.src)
	shares, err := c.b.Init(c.dir, opts)
	if err != nil {
		t.Fatalf("Init(%s): %v", opts.Method, err)
	}
	c.addKey(t, 1)
	return c, shares
}

func (c *testCluster) addKey(t testing.TB, v uint32) {
	t.Helper()
	sealed, err := c.b.NewDataKey(v)
	if err != nil {
		t.Fatalf("NewDataKey(%d): %v", v, err)
	}
	c.src.put(v, sealed)
}

// rootKey returns a copy of the barrier's root key, for leak checks.
func rootKey(t *testing.T, b *Barrier) []byte {
	t.Helper()
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		t.Fatal("barrier is sealed")
	}
	return slices.Clone(b.root)
}

// assertNotIn fails if data holds secret raw, or in hex or base64.
func assertNotIn(t *testing.T, what string, data, secret []byte) {
	t.Helper()
	if len(secret) == 0 {
		t.Fatalf("%s: empty secret to look for", what)
	}
	for _, enc := range [][]byte{
		secret,
		[]byte(hex.EncodeToString(secret)),
		[]byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(base64.RawStdEncoding.EncodeToString(secret)),
		[]byte(base64.RawURLEncoding.EncodeToString(secret)),
	} {
		if bytes.Contains(data, enc) {
			t.Fatalf("%s contains the secret (%d bytes encoded)", what, len(enc))
		}
	}
}

// checkRecordFile checks seal.json's mode and that it holds no secret.
func checkRecordFile(t *testing.T, dir string, secrets map[string][]byte) {
	t.Helper()
	path := filepath.Join(dir, recordFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("seal.json mode %04o, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range secrets {
		assertNotIn(t, "seal.json vs "+name, data, s)
	}
}
