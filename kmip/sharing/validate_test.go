package sharing

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

const (
	xor   = kmip.SplitKeyMethodXOR
	gf8   = kmip.SplitKeyMethodPolynomialSharingGF28
	gf16  = kmip.SplitKeyMethodPolynomialSharingGF216
	prime = kmip.SplitKeyMethodPolynomialSharingPrimeField
)

// checkErr fails unless err wraps want, starts with the package prefix and
// mentions none of secret's bytes (raw or in hex).
func checkErr(t *testing.T, err, want error, secret []byte) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "sharing: ") {
		t.Errorf("error %q lacks the package prefix", msg)
	}
	if len(secret) > 0 && (strings.Contains(msg, string(secret)) || strings.Contains(strings.ToLower(msg), hex.EncodeToString(secret))) {
		t.Errorf("error %q contains the secret", msg)
	}
}

func TestSplitValidation(t *testing.T) {
	key := []byte("SECRETKEYSECRETK")
	composite := new(big.Int).Mul(prime127, prime130) // no factor below 256
	tooBig := new(big.Int).Lsh(big.NewInt(1), MaxPrimeBits)
	tooBig.Add(tooBig, big.NewInt(1))
	smallFactor := new(big.Int).Mul(prime130, big.NewInt(251))
	for _, c := range []struct {
		name             string
		method           kmip.SplitKeyMethod
		secret           []byte
		parts, threshold int
		prime            *big.Int
		want             error
	}{
		{"unknown method", 0, key, 3, 2, nil, ErrMethod},
		{"method 5", 5, key, 3, 2, nil, ErrMethod},
		{"one part", gf8, key, 1, 1, nil, ErrParts},
		{"zero parts", gf8, key, 0, 0, nil, ErrParts},
		{"256 parts", gf8, key, 256, 2, nil, ErrParts},
		{"256 parts gf16", gf16, key, 256, 2, nil, ErrParts},
		{"threshold 0", gf8, key, 3, 0, nil, ErrThreshold},
		{"threshold above parts", gf8, key, 3, 4, nil, ErrThreshold},
		{"negative threshold", gf16, key, 3, -1, nil, ErrThreshold},
		{"xor threshold below parts", xor, key, 3, 2, nil, ErrThreshold},
		{"empty secret", gf8, nil, 3, 2, nil, ErrSecretLength},
		{"secret too long", gf8, make([]byte, MaxSecretBytes+1), 3, 2, nil, ErrSecretLength},
		{"prime given to gf8", gf8, key, 3, 2, prime130, ErrPrime},
		{"prime given to xor", xor, key, 3, 3, prime130, ErrPrime},
		{"prime missing", prime, key, 3, 2, nil, ErrPrime},
		{"prime zero", prime, key, 3, 2, new(big.Int), ErrPrime},
		{"prime negative", prime, key, 3, 2, big.NewInt(-7), ErrPrime},
		{"prime not bigger than 2^L", prime, key, 3, 2, prime127, ErrPrime},
		{"prime composite", prime, key, 3, 2, composite, ErrPrime},
		{"prime with a small factor", prime, key, 3, 2, smallFactor, ErrPrime},
		{"prime too large", prime, key, 3, 2, tooBig, ErrPrime},
	} {
		t.Run(c.name, func(t *testing.T) {
			shares, err := Split(c.method, c.secret, c.parts, c.threshold, c.prime, rand.NewChaCha8([32]byte{}))
			if shares != nil {
				t.Errorf("shares returned with an error")
			}
			checkErr(t, err, c.want, c.secret)
		})
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(r.n, len(p))
	r.n -= k
	return k, nil
}

func TestSplitRandomFailure(t *testing.T) {
	key := []byte("SECRETKEYSECRETK")
	for _, m := range allMethods {
		th := 3
		if m == xor {
			th = 4
		}
		for _, n := range []int{0, 5, 17} {
			_, err := Split(m, key, 4, th, primeFor(m, len(key)), &failingReader{n: n})
			checkErr(t, err, ErrRandom, key)
		}
		_, err := Split(m, key, 4, th, primeFor(m, len(key)), nil)
		checkErr(t, err, ErrRandom, key)
	}
}

func TestJoinValidation(t *testing.T) {
	key := []byte("SECRETKEYSECRETK")
	split := func(m kmip.SplitKeyMethod, parts, threshold int) []Share {
		s, err := Split(m, key, parts, threshold, primeFor(m, len(key)), rand.NewChaCha8([32]byte{1}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	g8 := split(gf8, 5, 3)
	g16 := split(gf16, 5, 3)
	x := split(xor, 3, 3)
	pf := split(prime, 5, 3)
	with := func(shares []Share, edit func([]Share)) []Share {
		out := make([]Share, len(shares))
		for i, s := range shares {
			out[i] = Share{ID: s.ID, Value: bytes.Clone(s.Value)}
		}
		edit(out)
		return out
	}
	many := make([]Share, MaxParts+1)
	for i := range many {
		many[i] = Share{ID: i + 1, Value: make([]byte, len(key))}
	}
	for _, c := range []struct {
		name      string
		method    kmip.SplitKeyMethod
		shares    []Share
		threshold int
		prime     *big.Int
		secretLen int
		want      error
	}{
		{"unknown method", 9, g8, 3, nil, 16, ErrMethod},
		{"threshold 0", gf8, g8, 0, nil, 16, ErrThreshold},
		{"threshold 256", gf8, g8, 256, nil, 16, ErrThreshold},
		{"xor threshold 1", xor, x[:1], 1, nil, 16, ErrThreshold},
		{"secret length 0", gf8, g8, 3, nil, 0, ErrSecretLength},
		{"secret length too long", gf8, g8, 3, nil, MaxSecretBytes + 1, ErrSecretLength},
		{"no shares", gf8, nil, 3, nil, 16, ErrTooFewShares},
		{"fewer than threshold", gf8, g8[:2], 3, nil, 16, ErrTooFewShares},
		{"xor missing a part", xor, x[:2], 3, nil, 16, ErrTooFewShares},
		{"more than 255 shares", gf8, many, 3, nil, 16, ErrTooManyShares},
		{"id 0", gf8, with(g8[:3], func(s []Share) { s[0].ID = 0 }), 3, nil, 16, ErrPartID},
		{"id negative", gf16, with(g16[:3], func(s []Share) { s[1].ID = -1 }), 3, nil, 16, ErrPartID},
		{"id 256", gf8, with(g8[:3], func(s []Share) { s[2].ID = 256 }), 3, nil, 16, ErrPartID},
		{"xor id above parts", xor, with(x, func(s []Share) { s[2].ID = 4 }), 3, nil, 16, ErrPartID},
		{"duplicate id", gf8, with(g8[:3], func(s []Share) { s[1].ID = s[0].ID }), 3, nil, 16, ErrDuplicatePart},
		{"duplicate id prime", prime, with(pf[:3], func(s []Share) { s[2].ID = s[0].ID }), 3, prime130, 16, ErrDuplicatePart},
		{"short share", gf8, with(g8[:3], func(s []Share) { s[1].Value = s[1].Value[:15] }), 3, nil, 16, ErrShareLength},
		{"long share", xor, with(x, func(s []Share) { s[0].Value = append(s[0].Value, 0) }), 3, nil, 16, ErrShareLength},
		{"shares longer than secret", gf8, g8, 3, nil, 15, ErrShareLength},
		{"gf16 odd share", gf16, with(g16[:3], func(s []Share) { s[0].Value = s[0].Value[:15] }), 3, nil, 16, ErrShareLength},
		{"prime share empty", prime, with(pf[:3], func(s []Share) { s[0].Value = nil }), 3, prime130, 16, ErrShareLength},
		{"prime share too long", prime, with(pf[:3], func(s []Share) { s[0].Value = append([]byte{0}, s[0].Value...) }), 3, prime130, 16, ErrShareLength},
		{"prime share not below p", prime, with(pf[:3], func(s []Share) { s[0].Value = prime130.FillBytes(make([]byte, 17)) }), 3, prime130, 16, ErrShareLength},
		{"prime missing", prime, pf, 3, nil, 16, ErrPrime},
		{"prime too small for secret", prime, pf, 3, prime130, 17, ErrPrime},
		{"prime given to gf8", gf8, g8, 3, prime130, 16, ErrPrime},
		{"prime joined longer than secret", prime, pf, 3, prime130, 8, ErrInconsistent},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Join(c.method, c.shares, c.threshold, c.prime, c.secretLen)
			if got != nil {
				t.Errorf("secret returned with an error")
			}
			checkErr(t, err, c.want, key)
		})
	}
}

func TestHasSmallFactor(t *testing.T) {
	for _, c := range []struct {
		p    *big.Int
		want bool
	}{
		{prime130, false},
		{prime521, false},
		{new(big.Int).Mul(prime127, prime130), false},
		{new(big.Int).Mul(prime130, big.NewInt(251)), true},
		{new(big.Int).Mul(prime130, big.NewInt(2)), true},
		{new(big.Int).Mul(prime130, big.NewInt(253)), true}, // 11·23
	} {
		if got := hasSmallFactor(c.p); got != c.want {
			t.Errorf("hasSmallFactor(%v) = %v", c.p, got)
		}
	}
}
