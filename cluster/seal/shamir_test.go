package seal

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func shamirCluster(t *testing.T, n, k int) (*testCluster, []string, *Record) {
	t.Helper()
	c, shares := newTestCluster(t, InitOptions{Method: MethodShamir, Shares: n, Threshold: k})
	rec, err := ReadRecord(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, shares, rec
}

func TestShamirThreshold(t *testing.T) {
	for _, tt := range []struct{ n, k int }{{1, 1}, {2, 2}, {3, 2}, {5, 3}, {16, 9}, {16, 16}} {
		t.Run(fmt.Sprintf("%d of %d", tt.k, tt.n), func(t *testing.T) {
			c, shares, rec := shamirCluster(t, tt.n, tt.k)
			if len(shares) != tt.n {
				t.Fatalf("%d shares, want %d", len(shares), tt.n)
			}
			if rec.Shamir.Threshold != tt.k || rec.Shamir.Shares != tt.n {
				t.Fatalf("record says %d of %d", rec.Shamir.Threshold, rec.Shamir.Shares)
			}
			raw, _ := os.ReadFile(filepath.Join(c.dir, recordFile))
			secrets := map[string][]byte{"root key": rootKey(t, c.b)}
			for i, s := range shares {
				v, _ := base64.RawURLEncoding.DecodeString(s[strings.LastIndex(s, ".")+1:])
				secrets[fmt.Sprintf("share %d", i+1)] = v
				assertNotIn(t, "seal.json", raw, []byte(s))
			}
			checkRecordFile(t, c.dir, secrets)

			// Any k distinct shares unseal; k-1 do not. Try the first k and the last k.
			for _, subset := range [][]string{shares[:tt.k], shares[tt.n-tt.k:]} {
				b := NewBarrier(c.src)
				for i, s := range subset {
					left, err := b.SubmitShare(rec, s)
					if err != nil {
						t.Fatalf("share %d: %v", i+1, err)
					}
					if want := tt.k - i - 1; left != want {
						t.Fatalf("after %d shares %d remaining, want %d", i+1, left, want)
					}
					if sealed := b.Sealed(); sealed != (left > 0) {
						t.Fatalf("after %d of %d shares sealed = %v", i+1, tt.k, sealed)
					}
				}
				if b.ClusterID() != c.b.ClusterID() {
					t.Fatal("unsealed with another cluster id")
				}
				if _, err := b.SubmitShare(rec, subset[0]); !errors.Is(err, ErrAlreadyUnsealed) {
					t.Fatalf("share after unseal: %v", err)
				}
			}
		})
	}
}

func TestShamirRefusesShares(t *testing.T) {
	c, shares, rec := shamirCluster(t, 5, 3)
	_, otherShares, otherRec := shamirCluster(t, 5, 3)
	field := func(s string, i int, v string) string {
		p := strings.Split(s, ".")
		p[i] = v
		return strings.Join(p, ".")
	}
	value := func(s string) string { return s[strings.LastIndex(s, ".")+1:] }
	mangle := func(s string) string {
		v := []byte(value(s))
		if v[3] == 'A' {
			v[3] = 'B'
		} else {
			v[3] = 'A'
		}
		return field(s, 3, string(v))
	}
	tests := []struct {
		name  string
		share string
		want  error
	}{
		{"mangled value", mangle(shares[1]), ErrBadShare},
		{"another index", field(shares[1], 2, "3"), ErrBadShare},
		{"index 0", field(shares[1], 2, "0"), ErrBadShare},
		{"index 6 of 5", field(shares[1], 2, "6"), ErrBadShare},
		{"index +2", field(shares[1], 2, "+2"), ErrBadShare},
		{"index 02", field(shares[1], 2, "02"), ErrBadShare},
		{"another init", otherShares[1], ErrBadShare},
		{"another init, this set id", field(otherShares[1], 1, strings.Split(shares[1], ".")[1]), ErrBadShare},
		{"wrong prefix", field(shares[1], 0, "vault-share"), ErrBadShare},
		{"too few fields", strings.Join(strings.Split(shares[1], ".")[:3], "."), ErrBadShare},
		{"extra field", shares[1] + ".x", ErrBadShare},
		{"empty", "", ErrBadShare},
		{"bad base64", field(shares[1], 3, "!!!!"), ErrBadShare},
		{"short value", field(shares[1], 3, value(shares[1])[:20]), ErrBadShare},
		{"non-canonical scalar", field(shares[1], 3, base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32)))), ErrBadShare},
		{"padded base64", field(shares[1], 3, base64.URLEncoding.EncodeToString(make([]byte, 32))), ErrBadShare},
		{"duplicate", shares[0], ErrDuplicateShare},
	}
	b := NewBarrier(c.src)
	if left, err := b.SubmitShare(rec, shares[0]); left != 2 || err != nil {
		t.Fatalf("first share: %d, %v", left, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			left, err := b.SubmitShare(rec, tt.share)
			if !errors.Is(err, tt.want) || left != 2 {
				t.Fatalf("SubmitShare = %d, %v; want 2, %v", left, err, tt.want)
			}
			if len(value(tt.share)) > 8 && strings.Contains(err.Error(), value(tt.share)) {
				t.Fatal("the error names the share value")
			}
			if !b.Sealed() {
				t.Fatal("unsealed by a refused share")
			}
		})
	}
	// Refused shares did not count: two more good ones are needed, and do it.
	if left, err := b.SubmitShare(rec, "  "+shares[3]+"\n"); left != 1 || err != nil {
		t.Fatalf("good share after refusals: %d, %v", left, err)
	}
	if left, err := b.SubmitShare(rec, shares[4]); left != 0 || err != nil || b.Sealed() {
		t.Fatalf("threshold share: %d, %v, sealed %v", left, err, b.Sealed())
	}

	t.Run("another cluster's record", func(t *testing.T) {
		b := NewBarrier(c.src)
		for _, s := range shares[:3] {
			if _, err := b.SubmitShare(otherRec, s); !errors.Is(err, ErrBadShare) {
				t.Fatalf("got %v, want ErrBadShare", err)
			}
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		fileRec, _ := newTestCluster(t, InitOptions{})
		r, _ := ReadRecord(fileRec.dir)
		if _, err := NewBarrier(c.src).SubmitShare(r, shares[0]); !errors.Is(err, ErrWrongMethod) {
			t.Fatalf("got %v", err)
		}
		if _, err := NewBarrier(c.src).SubmitShare(nil, shares[0]); !errors.Is(err, ErrNoRecord) {
			t.Fatalf("nil record: %v", err)
		}
	})
}

func TestShamirProgress(t *testing.T) {
	c, shares, rec := shamirCluster(t, 5, 3)
	b := NewBarrier(c.src)
	for _, s := range shares[:2] {
		if _, err := b.SubmitShare(rec, s); err != nil {
			t.Fatal(err)
		}
	}
	held := b.pending.shares[0].Value
	b.ResetShares()
	if !held.IsZero() {
		t.Fatal("ResetShares left a share value in memory")
	}
	if left, err := b.SubmitShare(rec, shares[2]); left != 2 || err != nil {
		t.Fatalf("after ResetShares: %d, %v", left, err)
	}
	b.Seal() // also forgets progress
	if left, err := b.SubmitShare(rec, shares[3]); left != 2 || err != nil {
		t.Fatalf("after Seal: %d, %v", left, err)
	}
	// A share for another record starts over.
	_, otherShares, otherRec := shamirCluster(t, 5, 3)
	if left, err := b.SubmitShare(otherRec, otherShares[0]); left != 2 || err != nil {
		t.Fatalf("share for another record: %d, %v", left, err)
	}
	// Used shares are cleared once the barrier is unsealed.
	for _, s := range otherShares[1:3] {
		if _, err := b.SubmitShare(otherRec, s); err != nil {
			t.Fatal(err)
		}
	}
	if b.Sealed() || len(b.pending.shares) != 0 {
		t.Fatalf("sealed %v with %d shares pending", b.Sealed(), len(b.pending.shares))
	}
}

// TestShamirTamperedRecord: a record whose wrapped root was altered passes
// the share checks but must not unseal, and progress is reset.
func TestShamirTamperedRecord(t *testing.T) {
	c, shares, rec := shamirCluster(t, 3, 2)
	rec.raw = nil
	rec.WrappedRoot[nonceSize] ^= 1
	b := NewBarrier(c.src)
	if _, err := b.SubmitShare(rec, shares[0]); err != nil {
		t.Fatal(err)
	}
	if left, err := b.SubmitShare(rec, shares[1]); !errors.Is(err, ErrWrongShares) || left != 2 || !b.Sealed() {
		t.Fatalf("tampered record: %d, %v, sealed %v", left, err, b.Sealed())
	}
}
