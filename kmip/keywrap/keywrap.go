package keywrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math"
)

// kwIV is the default initial value of RFC 3394 §2.2.3.1.
var kwIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// kwpMagic is the first half of RFC 5649's Alternative Initial Value.
const kwpMagic = 0xA65959A6

// kwWrap runs the wrapping process of RFC 3394 §2.2.1 (index-based form)
// over the 64-bit blocks of p with initial value iv; it returns A | R[1..n].
func kwWrap(b cipher.Block, iv [8]byte, p []byte) []byte {
	n := len(p) / 8
	out := make([]byte, 8+len(p))
	copy(out[8:], p)
	var buf [16]byte
	defer clear(buf[:])
	copy(buf[:8], iv[:])
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(buf[8:], out[i*8:])
			b.Encrypt(buf[:], buf[:])
			xorCounter(buf[:8], uint64(n*j+i))
			copy(out[i*8:], buf[8:])
		}
	}
	copy(out[:8], buf[:8])
	return out
}

// kwUnwrap inverts kwWrap (RFC 3394 §2.2.2) and returns the recovered
// initial value and key data; the caller checks the initial value.
func kwUnwrap(b cipher.Block, c []byte) (a [8]byte, p []byte) {
	n := len(c)/8 - 1
	p = make([]byte, n*8)
	copy(p, c[8:])
	var buf [16]byte
	defer clear(buf[:])
	copy(buf[:8], c[:8])
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			xorCounter(buf[:8], uint64(n*j+i))
			copy(buf[8:], p[(i-1)*8:])
			b.Decrypt(buf[:], buf[:])
			copy(p[(i-1)*8:], buf[8:])
		}
	}
	copy(a[:], buf[:8])
	return a, p
}

func xorCounter(a []byte, t uint64) {
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], t)
	subtle.XORBytes(a, a, tb[:])
}

// Errors of the wrapping functions; a KEK of the wrong size is reported by
// crypto/aes.
var (
	// ErrInput is a plaintext or ciphertext of a length the algorithm
	// does not allow.
	ErrInput  = errors.New("keywrap: input length not allowed")
	ErrVerify = errors.New("keywrap: integrity check failed")
)

// Wrap wraps p (at least two 64-bit blocks) under kek per RFC 3394.
func Wrap(kek, p []byte) ([]byte, error) {
	if len(p) < 16 || len(p)%8 != 0 {
		return nil, ErrInput
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return kwWrap(b, kwIV, p), nil
}

// Unwrap unwraps c per RFC 3394 and checks its integrity.
func Unwrap(kek, c []byte) ([]byte, error) {
	if len(c) < 24 || len(c)%8 != 0 {
		return nil, ErrInput
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	a, p := kwUnwrap(b, c)
	if subtle.ConstantTimeCompare(a[:], kwIV[:]) != 1 {
		clear(p)
		return nil, ErrVerify
	}
	return p, nil
}

// WrapPad wraps p (1 byte or more) under kek per RFC 5649.
func WrapPad(kek, p []byte) ([]byte, error) {
	if len(p) == 0 || uint64(len(p)) > math.MaxUint32 {
		return nil, ErrInput
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	var aiv [8]byte
	binary.BigEndian.PutUint32(aiv[:4], kwpMagic)
	binary.BigEndian.PutUint32(aiv[4:], uint32(len(p)))
	padded := make([]byte, (len(p)+7)/8*8)
	defer clear(padded)
	copy(padded, p)
	if len(padded) == 8 {
		// §4.1: a single block is encrypted once with AES in ECB mode.
		out := make([]byte, 16)
		copy(out, aiv[:])
		copy(out[8:], padded)
		b.Encrypt(out, out)
		return out, nil
	}
	return kwWrap(b, aiv, padded), nil
}

// UnwrapPad unwraps c per RFC 5649 §4.2, checking the Alternative
// Initial Value, the Message Length Indicator and the padding.
func UnwrapPad(kek, c []byte) ([]byte, error) {
	if len(c) < 16 || len(c)%8 != 0 {
		return nil, ErrInput
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	var a [8]byte
	var p []byte
	if len(c) == 16 {
		buf := make([]byte, 16)
		b.Decrypt(buf, c)
		copy(a[:], buf[:8])
		p = buf[8:]
	} else {
		a, p = kwUnwrap(b, c)
	}
	mli := binary.BigEndian.Uint32(a[4:])
	ok := binary.BigEndian.Uint32(a[:4]) == kwpMagic &&
		uint64(mli) > uint64(len(p)-8) && uint64(mli) <= uint64(len(p))
	if ok {
		var nonZero byte
		for _, x := range p[mli:] {
			nonZero |= x
		}
		ok = nonZero == 0
	}
	if !ok {
		clear(p)
		return nil, ErrVerify
	}
	return p[:mli], nil
}
