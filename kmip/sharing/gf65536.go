package sharing

// Arithmetic in GF(2^16) as KMIP defines it (KMIP 1.2 §2.2.5, Split Key):
// "an algebraic extension of GF(2^8): GF(2^16) ≈ GF(2^8)[y]/(y^2+y+m)". An
// element is uy + v with u and v in GF(2^8) (here the FIPS 197 field,
// polyAES), and m = x^5+x^4+x^3+x = 0x3A. y^2+y+m is irreducible over that
// field because the trace of 0x3A is 1 (TestGF16DefiningPolynomial checks
// that no byte is a root), so the quotient is a field.
//
// An element is held in a uint16 with u in the high byte and v in the low
// byte, which is also its encoding in Key Material: two bytes, u first
// (big-endian). A Key Part Identifier i (at most 255 here) is the element
// 0y + i.

// gf16M is m, the constant term of the defining polynomial y^2 + y + m.
const gf16M byte = 0x3a

// gf16Mul multiplies two elements of GF(2^16). With y^2 = y + m
// (characteristic 2):
//
//	(ry + s)(uy + v) = (ru + rv + su)y + (rum + sv)
//	                 = ((r+s)(u+v) + sv)y + (rum + sv).
//
// The constant term is printed as ru + svm in the specification's text, as
// the KMIP 3.0 implementation cited in doc.go reports; that product does
// not agree with the specification's own inverse formula below, and the one
// here is what y^2 = y + m gives. It uses five constant-time GF(2^8)
// multiplications.
func gf16Mul(a, b uint16) uint16 {
	r, s := byte(a>>8), byte(a)
	u, v := byte(b>>8), byte(b)
	sv := gf8Mul(s, v, polyAES)
	hi := gf8Mul(r^s, u^v, polyAES) ^ sv
	lo := gf8Mul(gf8Mul(r, u, polyAES), gf16M, polyAES) ^ sv
	return uint16(hi)<<8 | uint16(lo)
}

// gf16Inv returns the inverse of uy + v by the specification's formula:
// "(uy + v)^-1 = ud^-1 y + (u + v)d^-1, where d = (u + v)v + mu^2". d is
// the norm of uy + v into GF(2^8) and is non-zero for every non-zero
// element. gf16Inv(0) is 0.
func gf16Inv(a uint16) uint16 {
	u, v := byte(a>>8), byte(a)
	d := gf8Mul(u^v, v, polyAES) ^ gf8Mul(gf16M, gf8Mul(u, u, polyAES), polyAES)
	di := gf8Inv(d, polyAES)
	return uint16(gf8Mul(u, di, polyAES))<<8 | uint16(gf8Mul(u^v, di, polyAES))
}
