package cryptoalg

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding/binary"
	"math"

	"github.com/ovh/kmip-go"
)

// DerivationMethod is the KMIP Derivation Method enumeration (KMIP 1.4
// section 9.1.3.2.21), which github.com/ovh/kmip-go v0.8.1 does not define.
type DerivationMethod uint32

// KMIP Derivation Methods.
const (
	DerivationPBKDF2        DerivationMethod = 0x01
	DerivationHash          DerivationMethod = 0x02
	DerivationHMAC          DerivationMethod = 0x03
	DerivationEncrypt       DerivationMethod = 0x04
	DerivationNIST800108C   DerivationMethod = 0x05
	DerivationNIST800108F   DerivationMethod = 0x06
	DerivationNIST800108DPI DerivationMethod = 0x07
)

// Bounds on what one Derive Key may cost or produce.
const (
	MaxIterations   = 10_000_000
	MaxDerivedBytes = 1024
)

// Derivation is a Derive Key request: the method, its Derivation
// Parameters, and the Cryptographic Length of the object to create.
type Derivation struct {
	Method               DerivationMethod
	Parameters           *kmip.CryptographicParameters
	InitializationVector []byte
	DerivationData       []byte
	Salt                 []byte
	IterationCount       int
	LengthBits           int
}

// DeriveKey derives LengthBits of key material from key (of keyAlg):
//
//   - PBKDF2: PBKDF2 (RFC 8018) with HMAC of the Hashing Algorithm, the
//     key as password, Salt and Iteration Count.
//   - HASH: the hash of the key, or of the key followed by the Derivation
//     Data when some is given (KMIP names the key and the data as inputs
//     without fixing how both combine; this order keeps the key secret in
//     the input, and with no data it is what the OASIS test case
//     TC-DERIVEKEY-1-10 expects).
//   - HMAC: HMAC of the Derivation Data under the key.
//   - ENCRYPT: the Derivation Data encrypted under the key with the
//     Cryptographic Parameters and Initialization Vector.
//   - NIST800-108-C: the SP 800-108 counter-mode KDF with HMAC, a 32-bit
//     counter before the fixed input, which is the Derivation Data.
//
// The output is the first LengthBits bits; methods whose output is shorter
// (a single hash or HMAC, the ciphertext) refuse longer lengths.
func DeriveKey(d Derivation, keyAlg kmip.CryptographicAlgorithm, key []byte) ([]byte, error) {
	if d.LengthBits <= 0 || d.LengthBits%8 != 0 {
		return nil, invalid("Cryptographic Length must be a positive multiple of 8 bits")
	}
	n := d.LengthBits / 8
	if n > MaxDerivedBytes {
		return nil, fail(ErrLimit, "Cryptographic Length exceeds %d bits", MaxDerivedBytes*8)
	}
	if len(key) == 0 {
		return nil, fail(ErrInvalidKey, "the derivation key is empty")
	}
	if d.Method == DerivationEncrypt {
		return deriveEncrypt(d, keyAlg, key, n)
	}
	h, err := derivationHash(d)
	if err != nil {
		return nil, err
	}
	switch d.Method {
	case DerivationPBKDF2:
		if len(d.Salt) == 0 {
			return nil, invalid("Salt is required for PBKDF2")
		}
		if d.IterationCount < 1 || d.IterationCount > MaxIterations {
			return nil, invalid("Iteration Count must be between 1 and %d", MaxIterations)
		}
		out, err := pbkdf2.Key(h.new, string(key), d.Salt, d.IterationCount, n)
		if err != nil {
			return nil, invalid("PBKDF2 refused these parameters")
		}
		return out, nil
	case DerivationHash:
		s := h.new()
		s.Write(key)
		s.Write(d.DerivationData)
		return truncate(s.Sum(nil), n, "HASH")
	case DerivationHMAC:
		if len(d.DerivationData) == 0 {
			return nil, invalid("Derivation Data is required for HMAC")
		}
		m := hmac.New(h.new, key)
		m.Write(d.DerivationData)
		return truncate(m.Sum(nil), n, "HMAC")
	case DerivationNIST800108C:
		return kdfCounter(h, key, d.DerivationData, n), nil
	case DerivationNIST800108F, DerivationNIST800108DPI:
		return nil, unsupported("Derivation Method NIST800-108 feedback and double-pipeline modes are not supported")
	}
	return nil, unsupported("Derivation Method %d is not supported", d.Method)
}

// derivationHash is the Hashing Algorithm of the Derivation Parameters,
// which the hash-based methods require.
func derivationHash(d Derivation) (hashInfo, error) {
	p := d.Parameters
	if p == nil || p.HashingAlgorithm == 0 {
		return hashInfo{}, invalid("Derivation Parameters need Cryptographic Parameters with a Hashing Algorithm")
	}
	if d.Method != DerivationHash && p.HashingAlgorithm == kmip.HashingAlgorithmMD5 {
		return hashInfo{}, invalid("Hashing Algorithm MD5 is refused for key derivation with HMAC")
	}
	if len(d.InitializationVector) > 0 {
		return hashInfo{}, invalid("Initialization Vector applies only to Derivation Method ENCRYPT")
	}
	return lookupHash("Hashing Algorithm", p.HashingAlgorithm)
}

func truncate(b []byte, n int, method string) ([]byte, error) {
	if n > len(b) {
		clear(b)
		return nil, invalid("Derivation Method %s yields at most %d bits", method, 8*len(b))
	}
	out := append([]byte(nil), b[:n]...)
	clear(b)
	return out, nil
}

// kdfCounter is SP 800-108 section 5.1: K(i) = PRF(key, [i]_32 || data)
// for i = 1, 2, ..., concatenated and truncated to n bytes.
func kdfCounter(h hashInfo, key, data []byte, n int) []byte {
	out := make([]byte, 0, n+h.hash.Size())
	var ctr [4]byte
	for i := uint32(1); len(out) < n && i < math.MaxUint32; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		m := hmac.New(h.new, key)
		m.Write(ctr[:])
		m.Write(data)
		out = m.Sum(out)
	}
	clear(out[n:])
	return out[:n]
}

func deriveEncrypt(d Derivation, keyAlg kmip.CryptographicAlgorithm, key []byte, n int) ([]byte, error) {
	if len(d.DerivationData) == 0 {
		return nil, invalid("Derivation Data is required for ENCRYPT")
	}
	spec, err := ResolveCipher(d.Parameters, keyAlg, len(key))
	if err != nil {
		return nil, err
	}
	if spec.IVLength > 0 && len(d.InitializationVector) == 0 {
		// A random IV would make the derived key unreproducible.
		return nil, invalid("Initialization Vector is required for ENCRYPT with Block Cipher Mode %s", enumName(spec.Mode))
	}
	if spec.IVLength == 0 && len(d.InitializationVector) > 0 {
		return nil, invalid("Block Cipher Mode %s takes no Initialization Vector", enumName(spec.Mode))
	}
	ct, _, tag, err := Encrypt(spec, key, d.InitializationVector, nil, d.DerivationData)
	if err != nil {
		return nil, err
	}
	ct = append(ct, tag...)
	return truncate(ct, n, "ENCRYPT")
}

// HKDF is RFC 5869 HKDF with the given hash, for callers that derive keys
// outside the KMIP Derivation Methods (KMIP 1.4 has no HKDF method).
func HKDF(h kmip.HashingAlgorithm, secret, salt, info []byte, length int) ([]byte, error) {
	info1, err := signingHash("Hashing Algorithm", h)
	if err != nil {
		return nil, err
	}
	if length <= 0 || length > 255*info1.Size() || length > MaxDerivedBytes {
		return nil, invalid("HKDF output must be between 1 and %d bytes", min(255*info1.Size(), MaxDerivedBytes))
	}
	out, err := hkdf.Key(info1.New, secret, salt, string(info), length)
	if err != nil {
		return nil, invalid("HKDF refused these parameters")
	}
	return out, nil
}
