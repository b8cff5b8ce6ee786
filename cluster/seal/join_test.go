package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJoin(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	info := []byte("token-id=t1;node=n2")
	blob, err := c.b.SealObject(Binding{ID: "obj", Owner: "o"}, []byte("shared"))
	if err != nil {
		t.Fatal(err)
	}

	jk, err := NewJoinKey()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := c.b.WrapRootFor(jk.Public(), info)
	if err != nil {
		t.Fatal(err)
	}
	assertNotIn(t, "wrapped root", wrapped, rootKey(t, c.b))

	joiner := NewBarrier(c.src)
	if err := joiner.UnsealFromJoin(jk, wrapped, info); err != nil {
		t.Fatal(err)
	}
	if joiner.ClusterID() != c.b.ClusterID() || !bytes.Equal(rootKey(t, joiner), rootKey(t, c.b)) {
		t.Fatal("the joiner holds another cluster id or root key")
	}
	if pt, err := joiner.OpenObject(Binding{ID: "obj", Owner: "o"}, blob); err != nil || string(pt) != "shared" {
		t.Fatalf("joiner opens a member's blob: %q, %v", pt, err)
	}
	if jk.priv != nil {
		t.Fatal("the join key kept its private key after use")
	}
	if err := NewBarrier(c.src).UnsealFromJoin(jk, wrapped, info); !errors.Is(err, ErrJoinKeyUsed) {
		t.Fatalf("join key reused: %v", err)
	}
}

func TestJoinRefuses(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	info := []byte("token-id=t1")
	tests := []struct {
		name string
		wrap func(jk *JoinKey) []byte // what the member sends
		jk   func(jk *JoinKey) *JoinKey
		info []byte
		into func() *Barrier
		want error
	}{
		{name: "wrong info", info: []byte("token-id=t2"), want: ErrBadJoin},
		{name: "empty info", info: nil, want: ErrBadJoin},
		{name: "another join key", info: info, jk: func(*JoinKey) *JoinKey { k, _ := NewJoinKey(); return k }, want: ErrBadJoin},
		{name: "tampered", info: info, wrap: func(jk *JoinKey) []byte {
			w, _ := c.b.WrapRootFor(jk.Public(), info)
			w[len(w)-3] ^= 1
			return w
		}, want: ErrBadJoin},
		{name: "truncated", info: info, wrap: func(jk *JoinKey) []byte {
			w, _ := c.b.WrapRootFor(jk.Public(), info)
			return w[:len(w)/2]
		}, want: ErrBadJoin},
		{name: "wrong format byte", info: info, wrap: func(jk *JoinKey) []byte {
			w, _ := c.b.WrapRootFor(jk.Public(), info)
			w[0] = 9
			return w
		}, want: ErrBadJoin},
		{name: "empty", info: info, wrap: func(*JoinKey) []byte { return nil }, want: ErrBadJoin},
		{name: "joiner already unsealed", info: info, into: func() *Barrier { return barrierWithRoot(t, c) }, want: ErrAlreadyUnsealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jk, err := NewJoinKey()
			if err != nil {
				t.Fatal(err)
			}
			wrapped, err := c.b.WrapRootFor(jk.Public(), info)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wrap != nil {
				wrapped = tt.wrap(jk)
			}
			if tt.jk != nil {
				jk = tt.jk(jk)
			}
			b := NewBarrier(c.src)
			if tt.into != nil {
				b = tt.into()
			}
			wasSealed := b.Sealed()
			if err := b.UnsealFromJoin(jk, wrapped, tt.info); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if wasSealed && !b.Sealed() {
				t.Fatal("a failed join unsealed the barrier")
			}
		})
	}
	t.Run("bad public key", func(t *testing.T) {
		if _, err := c.b.WrapRootFor(make([]byte, 32), info); !errors.Is(err, ErrBadOptions) {
			t.Fatalf("got %v, want ErrBadOptions", err)
		}
	})
}

// TestJoinThenProtect: a joiner writes its own record (file, passphrase)
// or adopts the cluster's (shamir), and unseals from it after a restart.
func TestJoinThenProtect(t *testing.T) {
	join := func(t *testing.T, member *Barrier) *Barrier {
		t.Helper()
		jk, _ := NewJoinKey()
		w, err := member.WrapRootFor(jk.Public(), []byte("j"))
		if err != nil {
			t.Fatal(err)
		}
		b := NewBarrier(newFakeSource())
		if err := b.UnsealFromJoin(jk, w, []byte("j")); err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("file", func(t *testing.T) {
		c, _ := newTestCluster(t, InitOptions{})
		j := join(t, c.b)
		if _, err := j.Record(); !errors.Is(err, ErrNoRecord) {
			t.Fatalf("Record before Protect: %v", err)
		}
		dir := t.TempDir()
		if err := j.Protect(dir, InitOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := j.Protect(dir, InitOptions{}); !errors.Is(err, ErrAlreadyInitialized) {
			t.Fatalf("second Protect: %v", err)
		}
		checkRecordFile(t, dir, map[string][]byte{"root key": rootKey(t, c.b)})
		again := NewBarrier(newFakeSource())
		if err := again.UnsealFile(dir); err != nil || again.ClusterID() != c.b.ClusterID() {
			t.Fatalf("restart: %v, cluster %q", err, again.ClusterID())
		}
	})
	t.Run("passphrase", func(t *testing.T) {
		c, _ := newTestCluster(t, InitOptions{})
		j := join(t, c.b)
		dir := t.TempDir()
		if err := j.Protect(dir, InitOptions{Method: MethodPassphrase, Passphrase: []byte("joiner pass"), Argon2: cheapArgon}); err != nil {
			t.Fatal(err)
		}
		again := NewBarrier(newFakeSource())
		if err := again.UnsealPassphrase(dir, []byte("joiner pass")); err != nil || !bytes.Equal(rootKey(t, again), rootKey(t, c.b)) {
			t.Fatalf("restart: %v", err)
		}
	})
	t.Run("shamir", func(t *testing.T) {
		c, shares := newTestCluster(t, InitOptions{Method: MethodShamir, Shares: 3, Threshold: 2})
		j := join(t, c.b)
		dir := t.TempDir()
		if err := j.Protect(dir, InitOptions{Method: MethodShamir, Shares: 3, Threshold: 2}); !errors.Is(err, ErrUseAdoptRecord) {
			t.Fatalf("Protect with shamir: %v", err)
		}
		rec, err := c.b.Record()
		if err != nil {
			t.Fatal(err)
		}
		other, _ := newTestCluster(t, InitOptions{Method: MethodShamir, Shares: 3, Threshold: 2})
		foreign, _ := other.b.Record()
		if err := j.AdoptRecord(dir, foreign); !errors.Is(err, ErrWrongCluster) {
			t.Fatalf("adopt another cluster's record: %v", err)
		}
		fdir := t.TempDir()
		if err := j.Protect(fdir, InitOptions{}); err != nil {
			t.Fatal(err)
		}
		fileRec, err := os.ReadFile(filepath.Join(fdir, recordFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := j.AdoptRecord(dir, fileRec); !errors.Is(err, ErrNodeLocalRecord) {
			t.Fatalf("adopt a file record: %v", err)
		}
		if err := j.AdoptRecord(dir, []byte("{")); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("adopt garbage: %v", err)
		}
		if err := j.AdoptRecord(dir, rec); err != nil {
			t.Fatal(err)
		}
		if err := j.AdoptRecord(dir, rec); err != nil {
			t.Fatalf("adopting the same record twice: %v", err)
		}
		if got, _ := j.Record(); !bytes.Equal(got, rec) {
			t.Fatal("the joiner's Record is not the adopted one")
		}
		again := NewBarrier(newFakeSource())
		r, err := ReadRecord(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shares[1:] {
			if _, err := again.SubmitShare(r, s); err != nil {
				t.Fatal(err)
			}
		}
		if again.ClusterID() != c.b.ClusterID() {
			t.Fatal("the cluster's shares do not unseal the joiner")
		}
	})
}
