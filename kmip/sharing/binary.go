package sharing

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// binField is Shamir's scheme over a binary field GF(2^8) or GF(2^16),
// applied piecewise: "when L is bigger than 2^8 [2^16], then secret sharing
// is applied piecewise in pieces of 8 [16] bits each. The Key Material in
// the Key Value of the Key Block is the concatenation of the corresponding
// shares of all pieces of the secret" (KMIP 1.2 §2.2.5). Addition and
// subtraction are XOR. Share i holds every piece's polynomial evaluated at
// x = i, the Key Part Identifier (TC-SJ-2-12 and TC-SJ-3-12 fit x = 1..4).
type binField[E uint8 | uint16] struct {
	size  int // bytes per element
	mul   func(a, b E) E
	inv   func(a E) E
	load  func(b []byte) E
	store func(b []byte, e E)
}

var gf8Field = binField[uint8]{
	size:  1,
	mul:   func(a, b uint8) uint8 { return gf8Mul(a, b, polyKMIP) },
	inv:   func(a uint8) uint8 { return gf8Inv(a, polyKMIP) },
	load:  func(b []byte) uint8 { return b[0] },
	store: func(b []byte, e uint8) { b[0] = e },
}

var gf16Field = binField[uint16]{
	size:  2,
	mul:   gf16Mul,
	inv:   gf16Inv,
	load:  binary.BigEndian.Uint16,
	store: binary.BigEndian.PutUint16,
}

// split evaluates, for each piece of secret (len(secret) a multiple of
// f.size), a polynomial of degree threshold-1 whose constant term is the
// piece and whose other coefficients are read from rand: for piece j,
// coefficients 1 to threshold-1 are elements j*(threshold-1) onwards of the
// random stream. Any element value is allowed, zero included, so every
// coefficient is uniform.
func (f binField[E]) split(secret []byte, parts, threshold int, rand io.Reader) ([]Share, error) {
	deg := threshold - 1
	coef := make([]byte, len(secret)*deg)
	defer clear(coef)
	if _, err := io.ReadFull(rand, coef); err != nil {
		return nil, err
	}
	shares := make([]Share, parts)
	for i := range shares {
		x := E(i + 1)
		val := make([]byte, len(secret))
		for off := 0; off < len(secret); off += f.size {
			c := coef[off*deg:]
			// Horner: ((c_deg x + c_deg-1) x + ...) x + secret.
			var acc E
			for k := deg - 1; k >= 0; k-- {
				acc = f.mul(acc, x) ^ f.load(c[k*f.size:])
			}
			f.store(val[off:], f.mul(acc, x)^f.load(secret[off:]))
		}
		shares[i] = Share{ID: i + 1, Value: val}
	}
	return shares, nil
}

// join interpolates the first threshold shares at 0. Any further shares
// must equal the polynomial at their own x, or the parts were not made by
// one split (or were altered) and join fails. All shares are n bytes, n a
// multiple of f.size (checkJoin).
func (f binField[E]) join(shares []Share, threshold, n int) ([]byte, error) {
	basis := shares[:threshold]
	xs := make([]E, threshold)
	for i, s := range basis {
		xs[i] = E(s.ID)
	}
	secret := f.interpolate(basis, f.lagrange(xs, 0), n)
	for _, s := range shares[threshold:] {
		want := f.interpolate(basis, f.lagrange(xs, E(s.ID)), n)
		ok := subtle.ConstantTimeCompare(want, s.Value) == 1
		clear(want)
		if !ok {
			clear(secret)
			return nil, fmt.Errorf("%w: part %d is not on the polynomial of the others", ErrInconsistent, s.ID)
		}
	}
	return secret, nil
}

// lagrange returns the Lagrange basis polynomials of the distinct points
// xs evaluated at z: l_i(z) = Π_{j≠i} (z - x_j) / (x_i - x_j). The x's are
// public Key Part Identifiers, so this work need not be constant time.
func (f binField[E]) lagrange(xs []E, z E) []E {
	l := make([]E, len(xs))
	for i, xi := range xs {
		num, den := E(1), E(1)
		for j, xj := range xs {
			if j != i {
				num = f.mul(num, z^xj)
				den = f.mul(den, xi^xj)
			}
		}
		l[i] = f.mul(num, f.inv(den))
	}
	return l
}

// interpolate returns Σ l_i · share_i, piece by piece.
func (f binField[E]) interpolate(shares []Share, l []E, n int) []byte {
	out := make([]byte, n)
	for off := 0; off < n; off += f.size {
		var acc E
		for i, s := range shares {
			acc ^= f.mul(l[i], f.load(s.Value[off:]))
		}
		f.store(out[off:], acc)
	}
	return out
}

// splitGF16 pads a secret of odd length with one zero byte at the end, so
// that it is a whole number of 16-bit pieces; each share is then one byte
// longer than the secret. (KMIP defines no padding; a secret whose length
// is even, every AES and 3DES key, is never padded.)
func splitGF16(secret []byte, parts, threshold int, rand io.Reader) ([]Share, error) {
	if len(secret)%2 == 0 {
		return gf16Field.split(secret, parts, threshold, rand)
	}
	padded := make([]byte, len(secret)+1)
	defer clear(padded)
	copy(padded, secret)
	return gf16Field.split(padded, parts, threshold, rand)
}

// joinGF16 undoes splitGF16's padding: the pad byte of the joined value
// must be zero, which also catches most mixed-up sets of parts.
func joinGF16(shares []Share, threshold, secretLen int) ([]byte, error) {
	out, err := gf16Field.join(shares, threshold, secretLen+secretLen%2)
	if err != nil {
		return nil, err
	}
	if len(out) == secretLen {
		return out, nil
	}
	pad := out[secretLen]
	out[secretLen] = 0
	if pad != 0 {
		clear(out)
		return nil, fmt.Errorf("%w: padding of the joined value is not zero", ErrInconsistent)
	}
	return out[:secretLen:secretLen], nil
}
