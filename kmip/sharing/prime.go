package sharing

import (
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"
)

// Polynomial Sharing Prime Field: Shamir's scheme over GF(p), p the Prime
// Field Size. The secret is one integer, its Key Material read big-endian
// (the byte order of every KMIP Big Integer); a share is the polynomial's
// value at x = Key Part Identifier, encoded big-endian in as many bytes as
// p, so every share of one split has the same length whatever its value.
// No OASIS vector covers this method; doc.go says so.
//
// math/big is not constant time: the time a multiplication or reduction
// takes can depend on the values' lengths. A caller that splits or joins
// prime-field keys accepts that, as circl's secretsharing does for its
// NIST-curve groups.

func splitPrime(secret []byte, parts, threshold int, p *big.Int, rand io.Reader) ([]Share, error) {
	s := new(big.Int).SetBytes(secret)
	defer wipeInt(s)
	coef := make([]*big.Int, threshold-1)
	defer wipeInts(coef)
	for i := range coef {
		c, err := randBelow(rand, p)
		if err != nil {
			return nil, err
		}
		coef[i] = c
	}
	size := (p.BitLen() + 7) / 8
	shares := make([]Share, parts)
	acc, x := new(big.Int), new(big.Int)
	defer wipeInt(acc)
	for i := range shares {
		x.SetInt64(int64(i + 1))
		acc.SetInt64(0)
		for k := len(coef) - 1; k >= 0; k-- {
			acc.Add(acc, coef[k])
			acc.Mul(acc, x)
			acc.Mod(acc, p)
		}
		acc.Add(acc, s)
		acc.Mod(acc, p)
		shares[i] = Share{ID: i + 1, Value: acc.FillBytes(make([]byte, size))}
	}
	return shares, nil
}

// joinPrime interpolates the first threshold shares at 0 and checks any
// further shares against the same polynomial. The result must fit in
// secretLen bytes; a larger integer means the parts were not made by one
// split of a secretLen-byte key.
func joinPrime(shares []Share, threshold int, p *big.Int, secretLen int) ([]byte, error) {
	basis := shares[:threshold]
	ys := make([]*big.Int, threshold)
	defer wipeInts(ys)
	xs := make([]int64, threshold)
	for i, s := range basis {
		ys[i] = new(big.Int).SetBytes(s.Value)
		xs[i] = int64(s.ID)
	}
	secret := primeInterpolate(ys, primeLagrange(xs, 0, p), p)
	defer wipeInt(secret)
	size := (p.BitLen() + 7) / 8
	for _, s := range shares[threshold:] {
		v := primeInterpolate(ys, primeLagrange(xs, int64(s.ID), p), p)
		want := v.FillBytes(make([]byte, size))
		got := make([]byte, size)
		copy(got[size-len(s.Value):], s.Value)
		ok := subtle.ConstantTimeCompare(want, got) == 1
		wipeInt(v)
		clear(want)
		clear(got)
		if !ok {
			return nil, fmt.Errorf("%w: part %d is not on the polynomial of the others", ErrInconsistent, s.ID)
		}
	}
	if secret.BitLen() > 8*secretLen {
		return nil, fmt.Errorf("%w: the joined value is longer than %d bytes", ErrInconsistent, secretLen)
	}
	return secret.FillBytes(make([]byte, secretLen)), nil
}

// primeLagrange returns l_i(z) = Π_{j≠i} (z - x_j) / (x_i - x_j) mod p for
// distinct public x's; p > 256 > every x, so no difference is 0 mod p.
func primeLagrange(xs []int64, z int64, p *big.Int) []*big.Int {
	l := make([]*big.Int, len(xs))
	num, den, t := new(big.Int), new(big.Int), new(big.Int)
	for i, xi := range xs {
		num.SetInt64(1)
		den.SetInt64(1)
		for j, xj := range xs {
			if j != i {
				num.Mul(num, t.SetInt64(z-xj))
				num.Mod(num, p)
				den.Mul(den, t.SetInt64(xi-xj))
				den.Mod(den, p)
			}
		}
		den.ModInverse(den, p)
		l[i] = new(big.Int).Mul(num, den)
		l[i].Mod(l[i], p)
	}
	return l
}

func primeInterpolate(ys, l []*big.Int, p *big.Int) *big.Int {
	acc, t := new(big.Int), new(big.Int)
	for i := range ys {
		t.Mul(l[i], ys[i])
		acc.Add(acc, t)
	}
	wipeInt(t)
	return acc.Mod(acc, p)
}

// randBelow returns a uniform integer in [0, p) by rejection sampling, as
// crypto/rand.Int does, but wipes its buffer afterwards.
func randBelow(rand io.Reader, p *big.Int) (*big.Int, error) {
	bits := p.BitLen()
	buf := make([]byte, (bits+7)/8)
	defer clear(buf)
	mask := byte(0xff >> (8*len(buf) - bits))
	n := new(big.Int)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, err
		}
		buf[0] &= mask
		n.SetBytes(buf)
		if n.Cmp(p) < 0 {
			return n, nil
		}
	}
}

// wipeInt overwrites x's words before zeroing it. math/big's own
// temporaries are not reachable, so this is best effort.
func wipeInt(x *big.Int) {
	if x != nil {
		clear(x.Bits())
		x.SetInt64(0)
	}
}

func wipeInts(xs []*big.Int) {
	for _, x := range xs {
		wipeInt(x)
	}
}
