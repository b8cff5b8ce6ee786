package cryptoalg

import (
	"crypto/rand"

	"github.com/ovh/kmip-go"
)

// engine is one mode of operation behind Encrypter and Decrypter.
type engine interface {
	// update consumes src and returns the output that is ready.
	update(src []byte) ([]byte, error)
	// final consumes src and returns the remaining output and, when
	// encrypting with an AEAD, the tag; when decrypting, tag is the
	// Authenticated Encryption Tag to check.
	final(src, tag []byte) (out, outTag []byte, err error)
	// wipe zeroes pending data.
	wipe()
}

// Encrypter is a streaming symmetric encryption (KMIP 1.3 streaming
// Encrypt). Block modes keep at most one partial block between calls; GCM,
// ChaCha20-Poly1305, XTS and the key wrap modes buffer the whole input,
// bounded by the maxBuffered given to NewEncrypter, and produce all their
// output in Final.
type Encrypter struct {
	spec CipherSpec
	iv   []byte
	eng  engine
	done bool
}

// Decrypter is the streaming counterpart of Encrypter for Decrypt. For the
// AEAD modes no plaintext is released before Final has checked the tag.
type Decrypter struct {
	spec CipherSpec
	eng  engine
	done bool
}

// NewEncrypter starts an encryption with spec (from ResolveCipher) and key.
// iv is the request's IV/Counter/Nonce; when it is nil and the mode needs
// one, a random IV is generated (IV returns it, for the response). aad is
// the Authenticated Encryption Additional Data (AEAD modes only).
// maxBuffered bounds the bytes a buffering mode may hold.
func NewEncrypter(spec CipherSpec, key, iv, aad []byte, maxBuffered int) (*Encrypter, error) {
	if err := checkStreamArgs(spec, key, aad, maxBuffered); err != nil {
		return nil, err
	}
	switch {
	case iv == nil && spec.IVLength > 0:
		iv = make([]byte, spec.IVLength)
		_, _ = rand.Read(iv) // never fails; see rng.go
		if spec.Mode == kmip.BlockCipherModeXTS {
			clear(iv[8:]) // a random 64-bit data unit number; see xtsEngine
		}
	case iv != nil && spec.RandomIV:
		return nil, invalid("Random IV is True but an IV/Counter/Nonce was given")
	default:
		if err := checkIV(spec, iv); err != nil {
			return nil, err
		}
		iv = append([]byte(nil), iv...)
	}
	eng, err := newEngine(spec, key, iv, aad, true, maxBuffered)
	if err != nil {
		return nil, err
	}
	return &Encrypter{spec: spec, iv: iv, eng: eng}, nil
}

// NewDecrypter starts a decryption; iv must be the IV/Counter/Nonce the
// data was encrypted with.
func NewDecrypter(spec CipherSpec, key, iv, aad []byte, maxBuffered int) (*Decrypter, error) {
	if err := checkStreamArgs(spec, key, aad, maxBuffered); err != nil {
		return nil, err
	}
	if err := checkIV(spec, iv); err != nil {
		return nil, err
	}
	eng, err := newEngine(spec, key, append([]byte(nil), iv...), aad, false, maxBuffered)
	if err != nil {
		return nil, err
	}
	return &Decrypter{spec: spec, eng: eng}, nil
}

func checkStreamArgs(spec CipherSpec, key, aad []byte, maxBuffered int) error {
	if len(key) != spec.KeyLength || spec.KeyLength == 0 {
		return fail(ErrInvalidKey, "the key length does not match the resolved parameters")
	}
	if len(aad) > 0 && !spec.AEAD() {
		return invalid("Authenticated Encryption Additional Data applies only to GCM and ChaCha20Poly1305")
	}
	if maxBuffered < 0 {
		return fail(ErrLimit, "the buffer bound must not be negative")
	}
	return nil
}

func checkIV(spec CipherSpec, iv []byte) error {
	switch {
	case spec.IVLength == 0 && len(iv) > 0:
		return invalid("Block Cipher Mode %s takes no IV/Counter/Nonce", enumName(spec.Mode))
	case spec.IVLength > 0 && len(iv) == 0:
		return invalid("IV/Counter/Nonce is required")
	case len(iv) != spec.IVLength:
		return invalid("IV/Counter/Nonce must be %d bytes", spec.IVLength)
	}
	return nil
}

// IV returns the IV/Counter/Nonce in use (generated or given).
func (e *Encrypter) IV() []byte { return append([]byte(nil), e.iv...) }

// Update encrypts data and returns the ciphertext that is ready.
func (e *Encrypter) Update(data []byte) ([]byte, error) {
	if e.done {
		return nil, fail(ErrFinished, "the Encrypt stream is already finished")
	}
	out, err := e.eng.update(data)
	if err != nil {
		e.Wipe()
	}
	return out, err
}

// Final encrypts the last data and returns the rest of the ciphertext and,
// for AEAD modes, the Authenticated Encryption Tag. It wipes the stream.
func (e *Encrypter) Final(data []byte) (out, tag []byte, err error) {
	if e.done {
		return nil, nil, fail(ErrFinished, "the Encrypt stream is already finished")
	}
	defer e.Wipe()
	return e.eng.final(data, nil)
}

// Wipe zeroes the stream's buffers; it cannot be used after.
func (e *Encrypter) Wipe() {
	e.done = true
	e.eng.wipe()
}

// Update decrypts data and returns the plaintext that is ready.
func (d *Decrypter) Update(data []byte) ([]byte, error) {
	if d.done {
		return nil, fail(ErrFinished, "the Decrypt stream is already finished")
	}
	out, err := d.eng.update(data)
	if err != nil {
		d.Wipe()
	}
	return out, err
}

// Final decrypts the last data, checks tag (AEAD modes: the
// Authenticated Encryption Tag; nil otherwise) and returns the rest of the
// plaintext. A wrong tag, AAD or padding is ErrAuthentication.
func (d *Decrypter) Final(data, tag []byte) ([]byte, error) {
	if d.done {
		return nil, fail(ErrFinished, "the Decrypt stream is already finished")
	}
	defer d.Wipe()
	if d.spec.AEAD() {
		if len(tag) != d.spec.TagLength {
			return nil, fail(ErrInvalidData, "Authenticated Encryption Tag must be %d bytes", d.spec.TagLength)
		}
	} else if len(tag) > 0 {
		return nil, invalid("Authenticated Encryption Tag applies only to GCM and ChaCha20Poly1305")
	}
	out, _, err := d.eng.final(data, tag)
	return out, err
}

// Wipe zeroes the stream's buffers; it cannot be used after.
func (d *Decrypter) Wipe() {
	d.done = true
	d.eng.wipe()
}

// Encrypt is the one-shot Encrypt: it returns the ciphertext, the
// IV/Counter/Nonce used (generated when iv is nil and the mode needs one)
// and, for AEAD modes, the tag.
func Encrypt(spec CipherSpec, key, iv, aad, data []byte) (out, usedIV, tag []byte, err error) {
	e, err := NewEncrypter(spec, key, iv, aad, len(data))
	if err != nil {
		return nil, nil, nil, err
	}
	out, tag, err = e.Final(data)
	if err != nil {
		return nil, nil, nil, err
	}
	return out, e.iv, tag, nil
}

// Decrypt is the one-shot Decrypt.
func Decrypt(spec CipherSpec, key, iv, aad, data, tag []byte) ([]byte, error) {
	d, err := NewDecrypter(spec, key, iv, aad, len(data))
	if err != nil {
		return nil, err
	}
	return d.Final(data, tag)
}

// newEngine builds the mode of operation for spec.
func newEngine(spec CipherSpec, key, iv, aad []byte, encrypt bool, maxBuffered int) (engine, error) {
	if spec.Algorithm == kmip.CryptographicAlgorithmChaCha20Poly1305 {
		return newChaChaEngine(key, iv, aad, encrypt, maxBuffered)
	}
	switch spec.Mode {
	case kmip.BlockCipherModeECB, kmip.BlockCipherModeCBC:
		return newBlockEngine(spec, key, iv, encrypt)
	case kmip.BlockCipherModeCFB, kmip.BlockCipherModeOFB, kmip.BlockCipherModeCTR:
		return newStreamEngine(spec, key, iv, encrypt)
	case kmip.BlockCipherModeGCM:
		return newGCMEngine(spec, key, iv, aad, encrypt, maxBuffered)
	case kmip.BlockCipherModeXTS:
		return newXTSEngine(key, iv, encrypt, maxBuffered)
	case kmip.BlockCipherModeNISTKeyWrap, kmip.BlockCipherModeAESKeyWrapPadding:
		return newKeyWrapEngine(spec, key, encrypt, maxBuffered)
	}
	return nil, unsupported("Block Cipher Mode %s is not supported", enumName(spec.Mode))
}
