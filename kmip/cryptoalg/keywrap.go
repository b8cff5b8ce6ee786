package cryptoalg

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"

	"github.com/ovh/kmip-go"
)

// AES Key Wrap (NIST KeyWrap, RFC 3394 / SP 800-38F KW) and AES Key Wrap
// with Padding (RFC 5649 / SP 800-38F KWP), written on crypto/aes because
// neither the standard library nor golang.org/x/crypto offers them.

// kwIV is the default initial value of RFC 3394 section 2.2.3.1.
var kwIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// kwpPrefix is the constant half of the RFC 5649 alternative initial value.
var kwpPrefix = [4]byte{0xA6, 0x59, 0x59, 0xA6}

type keyWrapEngine struct {
	buffer
	b       cipher.Block
	padded  bool
	encrypt bool
}

func newKeyWrapEngine(spec CipherSpec, key []byte, encrypt bool, maxBuffered int) (engine, error) {
	b, err := newBlock(spec, key)
	if err != nil {
		return nil, err
	}
	return &keyWrapEngine{buffer: buffer{max: maxBuffered}, b: b,
		padded: spec.Mode == kmip.BlockCipherModeAESKeyWrapPadding, encrypt: encrypt}, nil
}

func (e *keyWrapEngine) update(src []byte) ([]byte, error) {
	return []byte{}, e.add(src)
}

func (e *keyWrapEngine) final(src, _ []byte) ([]byte, []byte, error) {
	if err := e.add(src); err != nil {
		return nil, nil, err
	}
	defer e.wipe()
	var (
		out []byte
		err error
	)
	switch {
	case e.encrypt && e.padded:
		out, err = kwpWrap(e.b, e.data)
	case e.encrypt:
		out, err = kwWrap(e.b, kwIV, e.data)
	case e.padded:
		out, err = kwpUnwrap(e.b, e.data)
	default:
		out, err = kwUnwrap(e.b, e.data)
	}
	return out, nil, err
}

// wrapCore is the wrapping function W of SP 800-38F (RFC 3394 2.2.1):
// six rounds over the 64-bit blocks of r, with the integrity register a.
func wrapCore(b cipher.Block, a [8]byte, r []byte) []byte {
	n := len(r) / 8
	out := make([]byte, 8+len(r))
	copy(out[8:], r)
	var buf [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(buf[:8], a[:])
			copy(buf[8:], out[8*i:8*i+8])
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(buf[:8])^t)
			copy(out[8*i:], buf[8:])
		}
	}
	copy(out, a[:])
	clear(buf[:])
	return out
}

// unwrapCore is W⁻¹: it returns the recovered integrity register and data.
func unwrapCore(b cipher.Block, c []byte) ([8]byte, []byte) {
	n := len(c)/8 - 1
	var a [8]byte
	copy(a[:], c[:8])
	r := make([]byte, 8*n)
	copy(r, c[8:])
	var buf [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(buf[8:], r[8*(i-1):8*i])
			b.Decrypt(buf[:], buf[:])
			copy(a[:], buf[:8])
			copy(r[8*(i-1):], buf[8:])
		}
	}
	clear(buf[:])
	return a, r
}

func kwWrap(b cipher.Block, iv [8]byte, p []byte) ([]byte, error) {
	// RFC 3394 wraps at least two 64-bit blocks.
	if len(p) < 16 || len(p)%8 != 0 {
		return nil, fail(ErrInvalidData, "Block Cipher Mode NISTKeyWrap needs data of whole 8-byte blocks, at least 16 bytes")
	}
	return wrapCore(b, iv, p), nil
}

func kwUnwrap(b cipher.Block, c []byte) ([]byte, error) {
	if len(c) < 24 || len(c)%8 != 0 {
		return nil, fail(ErrInvalidData, "Block Cipher Mode NISTKeyWrap needs wrapped data of whole 8-byte blocks, at least 24 bytes")
	}
	a, r := unwrapCore(b, c)
	if subtle.ConstantTimeCompare(a[:], kwIV[:]) != 1 {
		clear(r)
		return nil, fail(ErrAuthentication, "decryption failed")
	}
	return r, nil
}

func kwpWrap(b cipher.Block, p []byte) ([]byte, error) {
	if len(p) == 0 || uint64(len(p)) > 1<<32-1 {
		return nil, fail(ErrInvalidData, "Block Cipher Mode AESKeyWrapPadding needs between 1 byte and 4 GiB of data")
	}
	var aiv [8]byte
	copy(aiv[:], kwpPrefix[:])
	binary.BigEndian.PutUint32(aiv[4:], uint32(len(p)))
	padded := make([]byte, (len(p)+7)/8*8)
	copy(padded, p)
	defer clear(padded)
	if len(padded) == 8 {
		// RFC 5649 section 4.1: one block is encrypted directly.
		out := make([]byte, 16)
		copy(out, aiv[:])
		copy(out[8:], padded)
		b.Encrypt(out, out)
		return out, nil
	}
	return wrapCore(b, aiv, padded), nil
}

func kwpUnwrap(b cipher.Block, c []byte) ([]byte, error) {
	if len(c) < 16 || len(c)%8 != 0 {
		return nil, fail(ErrInvalidData, "Block Cipher Mode AESKeyWrapPadding needs wrapped data of whole 8-byte blocks, at least 16 bytes")
	}
	var (
		a [8]byte
		r []byte
	)
	if len(c) == 16 {
		buf := make([]byte, 16)
		b.Decrypt(buf, c)
		copy(a[:], buf[:8])
		r = buf[8:]
	} else {
		a, r = unwrapCore(b, c)
	}
	// RFC 5649 section 3: check the prefix, that the length indicator
	// falls in the last block, and that the padding is zero.
	mli := int(binary.BigEndian.Uint32(a[4:]))
	ok := subtle.ConstantTimeCompare(a[:4], kwpPrefix[:]) == 1 && mli > len(r)-8 && mli <= len(r)
	if ok {
		var nz byte
		for _, x := range r[mli:] {
			nz |= x
		}
		ok = nz == 0
	}
	if !ok {
		clear(r)
		return nil, fail(ErrAuthentication, "decryption failed")
	}
	return r[:mli], nil
}
