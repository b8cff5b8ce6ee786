package cryptoalg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/xts"
)

// buffer collects the whole input of the modes that cannot stream: Go's
// AEADs seal and open in one call, and XTS and the key wraps work on the
// whole data unit. It refuses to hold more than max bytes.
type buffer struct {
	data []byte
	max  int
}

func (b *buffer) add(src []byte) error {
	if len(src) > b.max-len(b.data) {
		b.wipe()
		return fail(ErrLimit, "the streamed data exceeds the maximum of %d bytes for this mode", b.max)
	}
	if len(b.data)+len(src) > cap(b.data) {
		// Grow by hand so the old backing array is zeroed, not dropped.
		grown := make([]byte, len(b.data), max(2*cap(b.data), len(b.data)+len(src)))
		copy(grown, b.data)
		clear(b.data)
		b.data = grown
	}
	b.data = append(b.data, src...)
	return nil
}

func (b *buffer) wipe() {
	clear(b.data[:cap(b.data)])
	b.data = b.data[:0]
}

// aeadEngine runs GCM and ChaCha20-Poly1305.
type aeadEngine struct {
	buffer
	aead    cipher.AEAD
	nonce   []byte
	aad     []byte
	encrypt bool
}

func newGCMEngine(spec CipherSpec, key, iv, aad []byte, encrypt bool, maxBuffered int) (engine, error) {
	b, err := newBlock(spec, key)
	if err != nil {
		return nil, err
	}
	var a cipher.AEAD
	switch {
	case spec.IVLength != DefaultGCMIVLength:
		a, err = cipher.NewGCMWithNonceSize(b, spec.IVLength)
	default:
		a, err = cipher.NewGCMWithTagSize(b, spec.TagLength)
	}
	if err != nil {
		return nil, invalid("IV Length or Tag Length is not valid for GCM")
	}
	return &aeadEngine{buffer: buffer{max: maxBuffered}, aead: a, nonce: iv, aad: append([]byte(nil), aad...), encrypt: encrypt}, nil
}

func newChaChaEngine(key, iv, aad []byte, encrypt bool, maxBuffered int) (engine, error) {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, fail(ErrInvalidKey, "a ChaCha20Poly1305 key must be 256 bits")
	}
	return &aeadEngine{buffer: buffer{max: maxBuffered}, aead: a, nonce: iv, aad: append([]byte(nil), aad...), encrypt: encrypt}, nil
}

func (e *aeadEngine) update(src []byte) ([]byte, error) {
	return []byte{}, e.add(src)
}

func (e *aeadEngine) final(src, tag []byte) ([]byte, []byte, error) {
	if err := e.add(src); err != nil {
		return nil, nil, err
	}
	defer e.wipe()
	if e.encrypt {
		sealed := e.aead.Seal(nil, e.nonce, e.data, e.aad)
		n := len(sealed) - e.aead.Overhead()
		return sealed[:n:n], sealed[n:], nil
	}
	ct := make([]byte, 0, len(e.data)+len(tag))
	ct = append(append(ct, e.data...), tag...)
	out, err := e.aead.Open(nil, e.nonce, ct, e.aad)
	if err != nil {
		return nil, nil, fail(ErrAuthentication, "decryption failed")
	}
	return out, nil, nil
}

func (e *aeadEngine) wipe() {
	e.buffer.wipe()
	clear(e.aad)
}

// xtsEngine runs XTS-AES (IEEE 1619, SP 800-38E) over one data unit.
// golang.org/x/crypto/xts takes the tweak as a 64-bit data-unit number
// (little-endian in the first half of the 128-bit tweak) and has no
// ciphertext stealing, so the IV/Counter/Nonce must have a zero second
// half and the data must be whole blocks.
type xtsEngine struct {
	buffer
	c       *xts.Cipher
	sector  uint64
	encrypt bool
}

func newXTSEngine(key, iv []byte, encrypt bool, maxBuffered int) (engine, error) {
	for _, b := range iv[8:] {
		if b != 0 {
			return nil, unsupported("Block Cipher Mode XTS supports only tweaks whose last 8 bytes are zero (a 64-bit data unit number)")
		}
	}
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		return nil, fail(ErrInvalidKey, "Block Cipher Mode XTS needs a key of 256 or 512 bits")
	}
	return &xtsEngine{buffer: buffer{max: maxBuffered}, c: c, sector: binary.LittleEndian.Uint64(iv[:8]), encrypt: encrypt}, nil
}

func (e *xtsEngine) update(src []byte) ([]byte, error) {
	return []byte{}, e.add(src)
}

func (e *xtsEngine) final(src, _ []byte) ([]byte, []byte, error) {
	if err := e.add(src); err != nil {
		return nil, nil, err
	}
	defer e.wipe()
	if len(e.data) < aesBlock || len(e.data)%aesBlock != 0 {
		return nil, nil, fail(ErrInvalidData, "Block Cipher Mode XTS needs data of whole 16-byte blocks, at least one")
	}
	out := make([]byte, len(e.data))
	if e.encrypt {
		e.c.Encrypt(out, e.data, e.sector)
	} else {
		e.c.Decrypt(out, e.data, e.sector)
	}
	return out, nil, nil
}
