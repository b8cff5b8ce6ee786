package cryptoalg

import (
	"crypto/cipher"
	"crypto/subtle"
)

// cmac is CMAC (NIST SP 800-38B, RFC 4493) over a 128-bit block cipher,
// as a hash.Hash so it streams like HMAC. No maintained CMAC module is
// available to this project, so it is written here on cipher.Block; it is
// tested with the RFC 4493 examples and the CAVP CMACVer vectors.
type cmac struct {
	b      cipher.Block
	k1, k2 [16]byte // subkeys (RFC 4493 section 2.3)
	x      [16]byte // chaining value
	buf    [16]byte // the last, possibly partial, block
	n      int      // bytes in buf
}

// rb is the constant R_128 of SP 800-38B section 5.3.
const rb = 0x87

func newCMAC(b cipher.Block) *cmac {
	c := &cmac{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	shiftLeft(&c.k1, &l)
	shiftLeft(&c.k2, &c.k1)
	clear(l[:])
	return c
}

// shiftLeft sets dst to src<<1, xoring R_b in when the top bit falls out;
// the xor is masked so it does not branch on the secret bit.
func shiftLeft(dst, src *[16]byte) {
	msb := src[0] >> 7
	for i := range 15 {
		dst[i] = src[i]<<1 | src[i+1]>>7
	}
	dst[15] = src[15]<<1 ^ byte(subtle.ConstantTimeSelect(int(msb), rb, 0))
}

func (c *cmac) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// A full buffer is processed only once more data arrives: the
		// last block is treated differently in Sum.
		if c.n == 16 {
			subtle.XORBytes(c.x[:], c.x[:], c.buf[:])
			c.b.Encrypt(c.x[:], c.x[:])
			c.n = 0
		}
		k := copy(c.buf[c.n:], p)
		c.n += k
		p = p[k:]
	}
	return n, nil
}

func (c *cmac) Sum(in []byte) []byte {
	var last [16]byte
	copy(last[:], c.buf[:c.n])
	if c.n == 16 {
		subtle.XORBytes(last[:], last[:], c.k1[:])
	} else {
		last[c.n] = 0x80 // padding 10*
		subtle.XORBytes(last[:], last[:], c.k2[:])
	}
	subtle.XORBytes(last[:], last[:], c.x[:])
	c.b.Encrypt(last[:], last[:])
	return append(in, last[:]...)
}

func (c *cmac) Reset() {
	clear(c.x[:])
	clear(c.buf[:])
	c.n = 0
}

func (c *cmac) Size() int      { return 16 }
func (c *cmac) BlockSize() int { return 16 }

// wipe zeroes the subkeys and the state.
func (c *cmac) wipe() {
	c.Reset()
	clear(c.k1[:])
	clear(c.k2[:])
}
