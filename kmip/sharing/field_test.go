package sharing

import (
	"math/rand/v2"
	"testing"
)

// xtimeMul is FIPS 197 §4.2.1's multiplication: repeated xtime (multiply
// by x, reduce by {1b}) and addition of the partial products, written with
// branches as the standard describes it.
func xtimeMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		if a&0x80 != 0 {
			a = a<<1 ^ 0x1b
		} else {
			a <<= 1
		}
		b >>= 1
	}
	return p
}

func TestGF8AESAgainstFIPS197(t *testing.T) {
	// FIPS 197 §4.2 and §4.2.1 worked examples.
	if got := gf8Mul(0x57, 0x83, polyAES); got != 0xc1 {
		t.Errorf("{57}·{83} = %02x, want c1", got)
	}
	if got := gf8Mul(0x57, 0x13, polyAES); got != 0xfe {
		t.Errorf("{57}·{13} = %02x, want fe", got)
	}
	for a := range 256 {
		for b := range 256 {
			if got, want := gf8Mul(byte(a), byte(b), polyAES), xtimeMul(byte(a), byte(b)); got != want {
				t.Fatalf("%02x·%02x = %02x, want %02x", a, b, got, want)
			}
		}
	}
}

// TestGF8KMIPAgainstLogTables checks the 0x11D field against log/exp
// tables built from the generator x (0x11D is primitive), a different
// method than the shift-and-add loop.
func TestGF8KMIPAgainstLogTables(t *testing.T) {
	var exp [255]byte
	var log [256]int
	v := 1
	for i := range exp {
		exp[i] = byte(v)
		log[v] = i
		v <<= 1
		if v&0x100 != 0 {
			v ^= 0x11d
		}
	}
	if v != 1 {
		t.Fatal("x does not have order 255; 0x11D tables are wrong")
	}
	for a := range 256 {
		for b := range 256 {
			want := byte(0)
			if a != 0 && b != 0 {
				want = exp[(log[a]+log[b])%255]
			}
			if got := gf8Mul(byte(a), byte(b), polyKMIP); got != want {
				t.Fatalf("%02x·%02x = %02x, want %02x", a, b, got, want)
			}
		}
	}
}

func TestGF8Inverse(t *testing.T) {
	for _, poly := range []byte{polyAES, polyKMIP} {
		if gf8Inv(0, poly) != 0 {
			t.Errorf("poly %02x: inv(0) != 0", poly)
		}
		for a := 1; a < 256; a++ {
			if p := gf8Mul(byte(a), gf8Inv(byte(a), poly), poly); p != 1 {
				t.Fatalf("poly %02x: %02x·inv = %02x", poly, a, p)
			}
		}
	}
	// FIPS 197 §4.2: {53} and {ca} are inverses.
	if gf8Inv(0x53, polyAES) != 0xca {
		t.Error("inv({53}) != {ca}")
	}
}

// TestGF16DefiningPolynomial checks that y^2 + y + m has no root in the
// base field, so GF(2^8)[y]/(y^2+y+m) is a field.
func TestGF16DefiningPolynomial(t *testing.T) {
	for y := range 256 {
		if gf8Mul(byte(y), byte(y), polyAES)^byte(y)^gf16M == 0 {
			t.Fatalf("%02x is a root of y^2+y+m", y)
		}
	}
}

// refGF16Mul multiplies by expanding the product as polynomials in y and
// reducing y^2 to y + m, without the specification's shortcut.
func refGF16Mul(a, b uint16) uint16 {
	r, s, u, v := byte(a>>8), byte(a), byte(b>>8), byte(b)
	m := func(x, y byte) byte { return xtimeMul(x, y) }
	c2 := m(r, u)
	c1 := m(r, v) ^ m(s, u)
	c0 := m(s, v)
	// c2·y^2 = c2·y + c2·m
	c1 ^= c2
	c0 ^= m(c2, gf16M)
	return uint16(c1)<<8 | uint16(c0)
}

func gf16Pow(a uint16, e int) uint16 {
	r := uint16(1)
	for ; e > 0; e >>= 1 {
		if e&1 != 0 {
			r = gf16Mul(r, a)
		}
		a = gf16Mul(a, a)
	}
	return r
}

func TestGF16Multiply(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for range 200000 {
		a, b, c := uint16(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32())
		if got, want := gf16Mul(a, b), refGF16Mul(a, b); got != want {
			t.Fatalf("%04x·%04x = %04x, want %04x", a, b, got, want)
		}
		if gf16Mul(a, b) != gf16Mul(b, a) {
			t.Fatalf("not commutative at %04x, %04x", a, b)
		}
		if gf16Mul(gf16Mul(a, b), c) != gf16Mul(a, gf16Mul(b, c)) {
			t.Fatalf("not associative at %04x, %04x, %04x", a, b, c)
		}
		if gf16Mul(a, b^c) != gf16Mul(a, b)^gf16Mul(a, c) {
			t.Fatalf("not distributive at %04x, %04x, %04x", a, b, c)
		}
	}
	// The base field embeds as 0y + v with its own multiplication.
	for a := range 256 {
		for b := range 256 {
			if got := gf16Mul(uint16(a), uint16(b)); got != uint16(xtimeMul(byte(a), byte(b))) {
				t.Fatalf("%02x·%02x in GF(2^16) = %04x", a, b, got)
			}
		}
	}
}

// TestGF16Inverse checks the specification's inverse formula on every
// non-zero element, and Fermat's a^(2^16-1) = 1 on samples.
func TestGF16Inverse(t *testing.T) {
	if gf16Inv(0) != 0 {
		t.Error("inv(0) != 0")
	}
	for a := 1; a < 1<<16; a++ {
		if p := gf16Mul(uint16(a), gf16Inv(uint16(a))); p != 1 {
			t.Fatalf("%04x·inv = %04x", a, p)
		}
	}
	rng := rand.New(rand.NewPCG(16, 2))
	for range 2000 {
		a := uint16(rng.Uint32()) | 1
		if gf16Pow(a, 65535) != 1 {
			t.Fatalf("%04x^65535 != 1", a)
		}
		if gf16Pow(a, 65534) != gf16Inv(a) {
			t.Fatalf("%04x^65534 != inv", a)
		}
	}
}
