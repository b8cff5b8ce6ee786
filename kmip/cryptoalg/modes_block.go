package cryptoalg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"math/big"

	"github.com/ovh/kmip-go"
)

// newBlock builds the block cipher of spec. Two-key Triple DES keys
// (K1 K2) are expanded to K1 K2 K1 (SP 800-67 keying option 2).
func newBlock(spec CipherSpec, key []byte) (cipher.Block, error) {
	var (
		b   cipher.Block
		err error
	)
	if spec.Algorithm == kmip.CryptographicAlgorithm3DES {
		k := make([]byte, 0, 24)
		k = append(k, key...)
		if len(key) == 16 {
			k = append(k, key[:8]...)
		}
		b, err = des.NewTripleDESCipher(k)
		clear(k)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		return nil, fail(ErrInvalidKey, "the key length is not valid for %s", enumName(spec.Algorithm))
	}
	return b, nil
}

// blockEngine runs ECB and CBC, with PKCS#5 (PKCS#7) padding or none. It
// keeps the partial block between calls; a decryption with padding also
// holds back the last whole block, which carries the padding.
type blockEngine struct {
	b       cipher.Block
	cbc     cipher.BlockMode // nil for ECB
	encrypt bool
	pad     bool
	bs      int
	pending []byte
}

func newBlockEngine(spec CipherSpec, key, iv []byte, encrypt bool) (engine, error) {
	b, err := newBlock(spec, key)
	if err != nil {
		return nil, err
	}
	e := &blockEngine{b: b, encrypt: encrypt, pad: spec.Padding == kmip.PaddingMethodPKCS5, bs: b.BlockSize()}
	e.pending = make([]byte, 0, 2*e.bs)
	if spec.Mode == kmip.BlockCipherModeCBC {
		if encrypt {
			e.cbc = cipher.NewCBCEncrypter(b, iv)
		} else {
			e.cbc = cipher.NewCBCDecrypter(b, iv)
		}
	}
	return e, nil
}

func (e *blockEngine) crypt(dst, src []byte) {
	if e.cbc != nil {
		e.cbc.CryptBlocks(dst, src)
		return
	}
	for i := 0; i < len(src); i += e.bs {
		if e.encrypt {
			e.b.Encrypt(dst[i:i+e.bs], src[i:i+e.bs])
		} else {
			e.b.Decrypt(dst[i:i+e.bs], src[i:i+e.bs])
		}
	}
}

func (e *blockEngine) update(src []byte) ([]byte, error) {
	total := len(e.pending) + len(src)
	n := total / e.bs * e.bs
	if !e.encrypt && e.pad && n == total && n > 0 {
		n -= e.bs // keep the block that may carry the padding
	}
	if n == 0 {
		e.pending = append(e.pending, src...)
		return []byte{}, nil
	}
	// pending is shorter than n (at most one block), so it is all used:
	// the output is pending followed by the head of src, in place.
	out := make([]byte, n)
	k := copy(out, e.pending)
	copy(out[k:], src[:n-k])
	e.crypt(out, out)
	clear(e.pending)
	e.pending = append(e.pending[:0], src[n-k:]...)
	return out, nil
}

func (e *blockEngine) final(src, _ []byte) ([]byte, []byte, error) {
	out, _ := e.update(src)
	defer e.wipe()
	if e.encrypt {
		if e.pad {
			p := e.bs - len(e.pending)
			for range p {
				e.pending = append(e.pending, byte(p))
			}
		}
		if len(e.pending)%e.bs != 0 {
			return nil, nil, fail(ErrInvalidData, "Padding Method None needs data of whole %d-byte blocks", e.bs)
		}
		last := make([]byte, len(e.pending))
		e.crypt(last, e.pending)
		return append(out, last...), nil, nil
	}
	if !e.pad {
		if len(e.pending) != 0 {
			return nil, nil, fail(ErrInvalidData, "the ciphertext must be whole %d-byte blocks", e.bs)
		}
		return out, nil, nil
	}
	if len(e.pending) != e.bs {
		return nil, nil, fail(ErrInvalidData, "the ciphertext must be whole %d-byte blocks", e.bs)
	}
	last := make([]byte, e.bs)
	e.crypt(last, e.pending)
	n, ok := unpad(last)
	if !ok {
		clear(out)
		clear(last)
		// The same answer as a wrong AEAD tag: a distinct one would
		// make the server a padding oracle.
		return nil, nil, fail(ErrAuthentication, "decryption failed")
	}
	return append(out, last[:n]...), nil, nil
}

// unpad checks PKCS#7 padding of the last block in constant time and
// returns the length of the data before it.
func unpad(block []byte) (int, bool) {
	bs := len(block)
	p := int(block[bs-1])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, bs)
	for i := range bs {
		// Bytes in the last p positions must all equal p.
		inPad := subtle.ConstantTimeLessOrEq(bs-i, p)
		eq := subtle.ConstantTimeByteEq(block[i], byte(p))
		good &= subtle.ConstantTimeSelect(inPad, eq, 1)
	}
	return bs - p, good == 1
}

func (e *blockEngine) wipe() {
	clear(e.pending[:cap(e.pending)])
	e.pending = e.pending[:0]
}

// streamEngine runs CFB (full-block feedback, CFB128 for AES), OFB and CTR,
// which need no buffering. CTR refuses data that would wrap the counter
// field of Counter Length bits.
type streamEngine struct {
	s cipher.Stream
	// remaining bytes before the CTR counter wraps; nil when unbounded.
	remaining *big.Int
}

func newStreamEngine(spec CipherSpec, key, iv []byte, encrypt bool) (engine, error) {
	b, err := newBlock(spec, key)
	if err != nil {
		return nil, err
	}
	e := &streamEngine{}
	switch spec.Mode {
	case kmip.BlockCipherModeCFB:
		if encrypt {
			e.s = cipher.NewCFBEncrypter(b, iv)
		} else {
			e.s = cipher.NewCFBDecrypter(b, iv)
		}
	case kmip.BlockCipherModeOFB:
		e.s = cipher.NewOFB(b, iv)
	default:
		e.s = cipher.NewCTR(b, iv)
		if spec.CounterBits < 8*len(iv) {
			// The counter is the low CounterBits of the block; the whole
			// block is incremented by crypto/cipher, which equals a
			// CounterBits counter as long as that field does not wrap.
			field := new(big.Int).SetBytes(iv)
			field.Mod(field, new(big.Int).Lsh(big.NewInt(1), uint(spec.CounterBits)))
			blocks := new(big.Int).Lsh(big.NewInt(1), uint(spec.CounterBits))
			blocks.Sub(blocks, field)
			e.remaining = blocks.Mul(blocks, big.NewInt(int64(len(iv))))
		}
	}
	return e, nil
}

func (e *streamEngine) update(src []byte) ([]byte, error) {
	if e.remaining != nil {
		n := big.NewInt(int64(len(src)))
		if e.remaining.Cmp(n) < 0 {
			return nil, fail(ErrLimit, "the data would wrap the CTR counter of Counter Length bits")
		}
		e.remaining.Sub(e.remaining, n)
	}
	out := make([]byte, len(src))
	e.s.XORKeyStream(out, src)
	return out, nil
}

func (e *streamEngine) final(src, _ []byte) ([]byte, []byte, error) {
	out, err := e.update(src)
	return out, nil, err
}

func (e *streamEngine) wipe() {}
