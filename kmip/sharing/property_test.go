package sharing

import (
	"bytes"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ovh/kmip-go"
)

var allMethods = []kmip.SplitKeyMethod{
	kmip.SplitKeyMethodXOR,
	kmip.SplitKeyMethodPolynomialSharingGF28,
	kmip.SplitKeyMethodPolynomialSharingGF216,
	kmip.SplitKeyMethodPolynomialSharingPrimeField,
}

// Known primes for the prime-field tests.
var (
	prime127     = pow2Minus(127, 1) // 2^127 - 1
	prime130     = pow2Minus(130, 5) // 2^130 - 5
	prime521     = pow2Minus(521, 1) // 2^521 - 1
	primeP256, _ = new(big.Int).SetString("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", 16)
)

func pow2Minus(e uint, d int64) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), e)
	return x.Sub(x, big.NewInt(d))
}

// primeFor returns a prime that fits a secret of n bytes, or nil for the
// other methods.
func primeFor(m kmip.SplitKeyMethod, n int) *big.Int {
	if m != kmip.SplitKeyMethodPolynomialSharingPrimeField {
		return nil
	}
	switch {
	case n < 16:
		return prime127
	case n == 16:
		return prime130
	case n < 32:
		return primeP256
	}
	return prime521
}

type splitCase struct {
	method           kmip.SplitKeyMethod
	secret           []byte
	parts, threshold int
	prime            *big.Int
	shares           []Share
}

// randomCase splits a random secret of 1 to 64 bytes (at least minLen) with
// random parts and threshold, reading all randomness from rng.
func randomCase(t *testing.T, rng *rand.ChaCha8, m kmip.SplitKeyMethod, minLen int) splitCase {
	t.Helper()
	pick := rand.New(rng)
	c := splitCase{method: m, parts: 2 + pick.IntN(11)}
	c.threshold = 1 + pick.IntN(c.parts)
	if m == kmip.SplitKeyMethodXOR {
		c.threshold = c.parts
	}
	c.secret = make([]byte, minLen+pick.IntN(65-minLen))
	_, _ = rng.Read(c.secret)
	c.prime = primeFor(m, len(c.secret))
	var err error
	c.shares, err = Split(m, c.secret, c.parts, c.threshold, c.prime, rng)
	if err != nil {
		t.Fatalf("method %d, %d of %d, %d bytes: %v", m, c.threshold, c.parts, len(c.secret), err)
	}
	return c
}

func shuffled(rng *rand.Rand, shares []Share) []Share {
	out := append([]Share(nil), shares...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestSplitJoinRoundTrip: any threshold-sized subset, in any order, joins
// to the secret; so do all parts; parts have the documented shape.
func TestSplitJoinRoundTrip(t *testing.T) {
	for _, m := range allMethods {
		rng := rand.NewChaCha8([32]byte{byte(m), 1})
		pick := rand.New(rand.NewPCG(uint64(m), 1))
		for range 60 {
			c := randomCase(t, rng, m, 1)
			if len(c.shares) != c.parts {
				t.Fatalf("%d parts, want %d", len(c.shares), c.parts)
			}
			wantLen := shareLen(m, len(c.secret))
			if c.prime != nil {
				wantLen = (c.prime.BitLen() + 7) / 8
			}
			for i, s := range c.shares {
				if s.ID != i+1 || len(s.Value) != wantLen {
					t.Fatalf("share %d: id %d, %d bytes, want %d", i, s.ID, len(s.Value), wantLen)
				}
			}
			for range 5 {
				sub := shuffled(pick, c.shares)[:c.threshold]
				got, err := Join(m, sub, c.threshold, c.prime, len(c.secret))
				if err != nil || !bytes.Equal(got, c.secret) {
					t.Fatalf("method %d, %d of %d, parts %v: %x, %v; want %x", m, c.threshold, c.parts, ids(sub), got, err, c.secret)
				}
			}
			got, err := Join(m, shuffled(pick, c.shares), c.threshold, c.prime, len(c.secret))
			if err != nil || !bytes.Equal(got, c.secret) {
				t.Fatalf("method %d, all %d parts: %x, %v", m, c.parts, got, err)
			}
		}
	}
}

// TestTooFewParts: fewer than threshold parts are refused, and
// interpolating them as if the threshold were lower does not give the
// secret (secrets of at least 8 bytes, so an accidental match has
// probability 2^-64 or less).
func TestTooFewParts(t *testing.T) {
	for _, m := range allMethods {
		rng := rand.NewChaCha8([32]byte{byte(m), 2})
		pick := rand.New(rand.NewPCG(uint64(m), 2))
		tested := 0
		for range 80 {
			c := randomCase(t, rng, m, 8)
			if c.threshold < 2 {
				continue
			}
			tested++
			sub := shuffled(pick, c.shares)[:c.threshold-1]
			if _, err := Join(m, sub, c.threshold, c.prime, len(c.secret)); !errors.Is(err, ErrTooFewShares) {
				t.Fatalf("method %d, %d of %d threshold: %v, want ErrTooFewShares", m, len(sub), c.threshold, err)
			}
			if len(sub) < 2 && m == kmip.SplitKeyMethodXOR {
				continue // XOR needs a threshold of at least 2
			}
			lower := len(sub)
			if m == kmip.SplitKeyMethodXOR {
				// Renumber so the ids fit the lower threshold; the XOR of
				// a strict subset of the pads is still not the secret.
				for i := range sub {
					sub[i].ID = i + 1
				}
			}
			got, err := Join(m, sub, lower, c.prime, len(c.secret))
			if err == nil && bytes.Equal(got, c.secret) {
				t.Fatalf("method %d: %d parts of a %d-threshold split joined to the secret", m, lower, c.threshold)
			}
			if err != nil && !errors.Is(err, ErrInconsistent) {
				t.Fatalf("method %d: %v", m, err)
			}
		}
		if tested < 20 {
			t.Fatalf("method %d: only %d cases with threshold >= 2", m, tested)
		}
	}
}

// TestExtraPartChecked: a part beyond the threshold that is not on the
// polynomial makes Join fail instead of being ignored.
func TestExtraPartChecked(t *testing.T) {
	for _, m := range allMethods[1:] {
		rng := rand.NewChaCha8([32]byte{byte(m), 3})
		tested := 0
		for range 40 {
			c := randomCase(t, rng, m, 1)
			if c.threshold == c.parts {
				continue
			}
			tested++
			shares := append([]Share(nil), c.shares...)
			last := &shares[len(shares)-1]
			last.Value = append([]byte(nil), last.Value...)
			last.Value[len(last.Value)-1] ^= 1
			if _, err := Join(m, shares, c.threshold, c.prime, len(c.secret)); !errors.Is(err, ErrInconsistent) {
				t.Fatalf("method %d: altered extra part: %v, want ErrInconsistent", m, err)
			}
		}
		if tested < 10 {
			t.Fatalf("method %d: only %d cases", m, tested)
		}
	}
}

// TestXORNeedsEveryPart: every strict subset of an XOR split is refused.
func TestXORNeedsEveryPart(t *testing.T) {
	secret := []byte("0123456789abcdef")
	shares, err := Split(kmip.SplitKeyMethodXOR, secret, 4, 4, nil, rand.NewChaCha8([32]byte{4}))
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < 4; k++ {
		for _, sub := range subsets(shares, k) {
			if _, err := Join(kmip.SplitKeyMethodXOR, sub, 4, nil, len(secret)); !errors.Is(err, ErrTooFewShares) {
				t.Fatalf("parts %v: %v", ids(sub), err)
			}
		}
	}
}

// TestSplitDeterministic: Split reads all its randomness from the reader
// it is given, and different randomness gives different parts.
func TestSplitDeterministic(t *testing.T) {
	secret := bytes.Repeat([]byte{0xa5}, 32)
	for _, m := range allMethods {
		th := 3
		if m == kmip.SplitKeyMethodXOR {
			th = 5
		}
		p := primeFor(m, len(secret))
		a, err1 := Split(m, secret, 5, th, p, rand.NewChaCha8([32]byte{9}))
		b, err2 := Split(m, secret, 5, th, p, rand.NewChaCha8([32]byte{9}))
		c, err3 := Split(m, secret, 5, th, p, rand.NewChaCha8([32]byte{10}))
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		for i := range a {
			if !bytes.Equal(a[i].Value, b[i].Value) {
				t.Fatalf("method %d: same seed, different part %d", m, i+1)
			}
			if bytes.Equal(a[i].Value, c[i].Value) {
				t.Fatalf("method %d: different seeds, same part %d", m, i+1)
			}
		}
	}
}

// TestThresholdOne: with a threshold of 1 every part is the secret itself
// (a polynomial of degree 0), and any one part joins.
func TestThresholdOne(t *testing.T) {
	secret := []byte{1, 2, 3, 4, 5}
	for _, m := range allMethods[1:] {
		p := primeFor(m, len(secret))
		shares, err := Split(m, secret, 3, 1, p, rand.NewChaCha8([32]byte{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shares {
			got, err := Join(m, []Share{s}, 1, p, len(secret))
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("method %d part %d: %x, %v", m, s.ID, got, err)
			}
		}
	}
}

// TestMaxParts splits into 255 parts with a threshold of 255 and joins.
func TestMaxParts(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5a, 0xc3}, 16)
	for _, m := range allMethods {
		p := primeFor(m, len(secret))
		shares, err := Split(m, secret, MaxParts, MaxParts, p, rand.NewChaCha8([32]byte{255}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Join(m, shares, MaxParts, p, len(secret))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("method %d: %x, %v", m, got, err)
		}
	}
}

// TestGF16OddLength: an odd-length secret is padded with one zero byte;
// a joined value whose pad byte is not zero is refused.
func TestGF16OddLength(t *testing.T) {
	m := kmip.SplitKeyMethodPolynomialSharingGF216
	secret := []byte{0xde, 0xad, 0xbe}
	shares, err := Split(m, secret, 3, 2, nil, rand.NewChaCha8([32]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		if len(s.Value) != 4 {
			t.Fatalf("part %d is %d bytes, want 4", s.ID, len(s.Value))
		}
	}
	got, err := Join(m, shares[1:], 2, nil, 3)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("%x, %v", got, err)
	}
	// Parts of a 4-byte secret whose last byte is not zero.
	bad, err := gf16Field.split([]byte{0xde, 0xad, 0xbe, 0x01}, 3, 2, rand.NewChaCha8([32]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(m, bad[:2], 2, nil, 3); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("non-zero pad: %v, want ErrInconsistent", err)
	}
}

// TestPrimeShortEncoding: a prime-field part whose leading zero bytes were
// dropped (an integer encoded minimally) still joins.
func TestPrimeShortEncoding(t *testing.T) {
	m := kmip.SplitKeyMethodPolynomialSharingPrimeField
	secret := []byte{0, 0, 0, 7}
	shares, err := Split(m, secret, 3, 2, prime127, rand.NewChaCha8([32]byte{7}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		shares[i].Value = new(big.Int).SetBytes(shares[i].Value).Bytes()
	}
	got, err := Join(m, shares, 2, prime127, len(secret))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("%x, %v", got, err)
	}
}
