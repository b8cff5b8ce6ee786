package cryptoalg

import (
	"crypto"
	"crypto/aes"
	"crypto/hmac"
	"crypto/subtle"
	"hash"

	"github.com/ovh/kmip-go"
)

// MinMACLength is the shortest MAC Data that MAC Verify compares: a
// truncated MAC shorter than 64 bits is refused (SP 800-38B appendix A and
// SP 800-107 section 5.3.3 advise against tags under 64 bits).
const MinMACLength = 8

// hmacAlgorithms maps the KMIP HMAC algorithms to their hash. HMAC-MD5 is
// listed by KMIP but not offered.
var hmacAlgorithms = map[kmip.CryptographicAlgorithm]kmip.HashingAlgorithm{
	kmip.CryptographicAlgorithmHMACSHA1:      kmip.HashingAlgorithmSHA_1,
	kmip.CryptographicAlgorithmHMACSHA224:    kmip.HashingAlgorithmSHA_224,
	kmip.CryptographicAlgorithmHMACSHA256:    kmip.HashingAlgorithmSHA_256,
	kmip.CryptographicAlgorithmHMACSHA384:    kmip.HashingAlgorithmSHA_384,
	kmip.CryptographicAlgorithmHMACSHA512:    kmip.HashingAlgorithmSHA_512,
	kmip.CryptographicAlgorithmHMAC_SHA3_224: kmip.HashingAlgorithmSHA_3_224,
	kmip.CryptographicAlgorithmHMAC_SHA3_256: kmip.HashingAlgorithmSHA_3_256,
	kmip.CryptographicAlgorithmHMAC_SHA3_384: kmip.HashingAlgorithmSHA_3_384,
	kmip.CryptographicAlgorithmHMAC_SHA3_512: kmip.HashingAlgorithmSHA_3_512,
}

// MACSpec is a validated MAC / MAC Verify configuration: HMAC with Hash,
// or CMAC with AES.
type MACSpec struct {
	Algorithm kmip.CryptographicAlgorithm // an HMAC algorithm, or AES for CMAC
	Hash      crypto.Hash                 // HMAC only
	CMAC      bool
	KeyLength int
}

// ResolveMAC validates the Cryptographic Parameters of MAC or MAC Verify
// with a key of keyAlg and keyLen bytes. HMAC comes from the key's (or the
// parameters') HMAC algorithm; CMAC needs an AES key and Block Cipher Mode
// CMAC.
func ResolveMAC(p *kmip.CryptographicParameters, keyAlg kmip.CryptographicAlgorithm, keyLen int) (MACSpec, error) {
	if p == nil {
		p = &kmip.CryptographicParameters{}
	}
	alg := keyAlg
	if p.CryptographicAlgorithm != 0 {
		// Parameters that name an HMAC algorithm choose it for a key that
		// is not an HMAC key of its own: the OASIS recordings CS-AC-M-4 and
		// -5 compute HMAC-SHA256 with a key created as AES. What grants the
		// use is the key's Cryptographic Usage Mask (MAC Generate, MAC
		// Verify), which the server checks. An HMAC key keeps its hash.
		_, hmacNamed := hmacAlgorithms[p.CryptographicAlgorithm]
		_, hmacKey := hmacAlgorithms[keyAlg]
		if keyAlg != 0 && p.CryptographicAlgorithm != keyAlg && (!hmacNamed || hmacKey) {
			return MACSpec{}, invalid("Cryptographic Algorithm %s does not match the key's algorithm %s",
				enumName(p.CryptographicAlgorithm), enumName(keyAlg))
		}
		alg = p.CryptographicAlgorithm
	}
	if p.PaddingMethod != 0 || p.DigitalSignatureAlgorithm != 0 || p.IVLength != 0 || p.TagLength != 0 || p.RandomIV != nil {
		return MACSpec{}, invalid("Padding Method, Digital Signature Algorithm, IV Length, Tag Length and Random IV do not apply to MAC")
	}
	if keyLen == 0 {
		return MACSpec{}, fail(ErrInvalidKey, "the MAC key is empty")
	}
	if h, ok := hmacAlgorithms[alg]; ok {
		if p.BlockCipherMode != 0 {
			return MACSpec{}, invalid("Block Cipher Mode does not apply to %s", enumName(alg))
		}
		if p.HashingAlgorithm != 0 && p.HashingAlgorithm != h {
			return MACSpec{}, invalid("Hashing Algorithm %s does not match %s", enumName(p.HashingAlgorithm), enumName(alg))
		}
		info, err := lookupHash("Hashing Algorithm", h)
		if err != nil {
			return MACSpec{}, err
		}
		return MACSpec{Algorithm: alg, Hash: info.hash, KeyLength: keyLen}, nil
	}
	switch alg {
	case kmip.CryptographicAlgorithmAES:
		if p.BlockCipherMode != kmip.BlockCipherModeCMAC {
			return MACSpec{}, invalid("MAC with an AES key needs Block Cipher Mode CMAC")
		}
		if p.HashingAlgorithm != 0 {
			return MACSpec{}, invalid("Hashing Algorithm does not apply to CMAC")
		}
		if keyLen != 16 && keyLen != 24 && keyLen != 32 {
			return MACSpec{}, fail(ErrInvalidKey, "an AES key must be 128, 192 or 256 bits")
		}
		return MACSpec{Algorithm: alg, CMAC: true, KeyLength: keyLen}, nil
	case 0:
		return MACSpec{}, invalid("Cryptographic Algorithm is required: the key names none")
	}
	return MACSpec{}, unsupported("MAC with Cryptographic Algorithm %s is not supported", enumName(alg))
}

// MAC is a streaming MAC for KMIP 1.3 streamed MAC and MAC Verify.
type MAC struct {
	h    hash.Hash
	c    *cmac
	done bool
}

// NewMAC starts a MAC with spec and key.
func NewMAC(spec MACSpec, key []byte) (*MAC, error) {
	if len(key) != spec.KeyLength || len(key) == 0 {
		return nil, fail(ErrInvalidKey, "the key length does not match the resolved parameters")
	}
	if spec.CMAC {
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fail(ErrInvalidKey, "an AES key must be 128, 192 or 256 bits")
		}
		c := newCMAC(b)
		return &MAC{h: c, c: c}, nil
	}
	if !spec.Hash.Available() {
		return nil, unsupported("the hash of %s is not available", enumName(spec.Algorithm))
	}
	return &MAC{h: hmac.New(spec.Hash.New, key)}, nil
}

// Update adds data.
func (m *MAC) Update(data []byte) error {
	if m.done {
		return fail(ErrFinished, "the MAC stream is already finished")
	}
	m.h.Write(data)
	return nil
}

// Final adds data and returns the MAC Data; the MAC is wiped.
func (m *MAC) Final(data []byte) ([]byte, error) {
	if err := m.Update(data); err != nil {
		return nil, err
	}
	defer m.Wipe()
	return m.h.Sum(nil), nil
}

// Verify adds data and compares the MAC, in constant time, with mac,
// which may be truncated to no fewer than MinMACLength bytes. A mismatch is
// ErrAuthentication (MAC Verify's Validity Indicator Invalid).
func (m *MAC) Verify(data, mac []byte) error {
	want, err := m.Final(data)
	if err != nil {
		return err
	}
	if len(mac) < MinMACLength || len(mac) > len(want) {
		return fail(ErrInvalidData, "MAC Data must be between %d and %d bytes", MinMACLength, len(want))
	}
	if subtle.ConstantTimeCompare(want[:len(mac)], mac) != 1 {
		return fail(ErrAuthentication, "the MAC does not match")
	}
	return nil
}

// Wipe clears the state; the MAC cannot be used after.
func (m *MAC) Wipe() {
	m.done = true
	m.h.Reset()
	if m.c != nil {
		m.c.wipe()
	}
}

// ComputeMAC is the one-shot MAC operation.
func ComputeMAC(spec MACSpec, key, data []byte) ([]byte, error) {
	m, err := NewMAC(spec, key)
	if err != nil {
		return nil, err
	}
	return m.Final(data)
}

// VerifyMAC is the one-shot MAC Verify: nil when mac is valid,
// ErrAuthentication when it is not.
func VerifyMAC(spec MACSpec, key, data, mac []byte) error {
	m, err := NewMAC(spec, key)
	if err != nil {
		return err
	}
	return m.Verify(data, mac)
}
