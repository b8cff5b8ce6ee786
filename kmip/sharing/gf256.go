package sharing

// Arithmetic in GF(2^8), elements as bytes, addition as XOR. Two
// representations are used: polyKMIP (x^8+x^4+x^3+x^2+1) for the
// Polynomial Sharing GF(2^8) method, as the OASIS vectors require, and
// polyAES (x^8+x^4+x^3+x+1, FIPS 197 §4.2) as the base field of GF(2^16),
// as the specification defines it. doc.go says where each comes from.

// Reduction bytes: the low eight bits of the irreducible polynomial (the x^8
// term is the carry out of the byte).
const (
	polyKMIP byte = 0x1d // x^8 + x^4 + x^3 + x^2 + 1 (285)
	polyAES  byte = 0x1b // x^8 + x^4 + x^3 + x + 1 (283)
)

// gf8Mul multiplies a and b modulo the polynomial whose reduction byte is
// poly. It is a carry-less shift-and-add loop of a fixed eight rounds whose
// conditional steps are masks, not branches, and which reads no table, so
// its timing does not depend on a or b. (Log/exp tables would be faster but
// their lookups are indexed by secret bytes, and cache timing can reveal
// those indexes to a co-located process; at the sizes a key server splits,
// a few hundred thousand multiplications, the loop costs milliseconds.)
func gf8Mul(a, b, poly byte) byte {
	var p byte
	for range 8 {
		p ^= -(b & 1) & a
		b >>= 1
		carry := -(a >> 7)
		a = a<<1 ^ carry&poly
	}
	return p
}

// gf8Inv returns a^-1 as a^254 (the multiplicative group has order 255), by
// a fixed square-and-multiply chain, so it takes the same time for every a.
// gf8Inv(0) is 0; callers never divide by zero (the divisors are differences
// of distinct part identifiers, or checked elements).
func gf8Inv(a, poly byte) byte {
	// 254 = 0b11111110: square, then multiply by a, seven times over.
	r := byte(1)
	for i := range 8 {
		r = gf8Mul(r, r, poly)
		if i < 7 {
			r = gf8Mul(r, a, poly)
		}
	}
	return r
}
