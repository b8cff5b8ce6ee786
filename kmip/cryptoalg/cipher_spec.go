package cryptoalg

import (
	"github.com/ovh/kmip-go"
)

// Default GCM parameters: a 96-bit IV (the length SP 800-38D section 8.2
// recommends) and a full 16-byte tag.
const (
	DefaultGCMIVLength  = 12
	DefaultGCMTagLength = 16
	aesBlock            = 16
	desBlock            = 8
	chachaKey           = 32
	chachaNonce         = 12
	chachaTag           = 16
)

// CipherSpec is a validated symmetric Encrypt/Decrypt configuration.
// Lengths are in bytes.
type CipherSpec struct {
	Algorithm kmip.CryptographicAlgorithm // AES, 3DES or ChaCha20Poly1305
	Mode      kmip.BlockCipherMode        // 0 for ChaCha20-Poly1305
	Padding   kmip.PaddingMethod          // None or PKCS5 (ECB and CBC only)
	KeyLength int
	// IVLength is the length the IV/Counter/Nonce must have; 0 for modes
	// without one (ECB, the key wrap modes).
	IVLength int
	// TagLength is the Authenticated Encryption Tag length (AEAD only).
	TagLength int
	// RandomIV is the request's Random IV: the server generates the IV.
	RandomIV bool
	// CounterBits is the Counter Length of CTR mode: the counter is the
	// low CounterBits of the IV/Counter/Nonce and must not wrap.
	CounterBits int
}

// AEAD reports whether the spec produces an Authenticated Encryption Tag.
func (s CipherSpec) AEAD() bool {
	return s.Mode == kmip.BlockCipherModeGCM || s.Algorithm == kmip.CryptographicAlgorithmChaCha20Poly1305
}

// blockSize of the spec's cipher.
func (s CipherSpec) blockSize() int {
	if s.Algorithm == kmip.CryptographicAlgorithm3DES {
		return desBlock
	}
	return aesBlock
}

// modes lists, per block cipher, the Block Cipher Modes this package runs.
var modes = map[kmip.CryptographicAlgorithm]map[kmip.BlockCipherMode]bool{
	kmip.CryptographicAlgorithmAES: {
		kmip.BlockCipherModeECB: true, kmip.BlockCipherModeCBC: true, kmip.BlockCipherModeCFB: true,
		kmip.BlockCipherModeOFB: true, kmip.BlockCipherModeCTR: true, kmip.BlockCipherModeGCM: true,
		kmip.BlockCipherModeXTS: true, kmip.BlockCipherModeNISTKeyWrap: true,
		kmip.BlockCipherModeAESKeyWrapPadding: true,
	},
	kmip.CryptographicAlgorithm3DES: {
		kmip.BlockCipherModeECB: true, kmip.BlockCipherModeCBC: true, kmip.BlockCipherModeCFB: true,
		kmip.BlockCipherModeOFB: true,
	},
}

// ResolveCipher validates the Cryptographic Parameters of a symmetric
// Encrypt or Decrypt with a key of keyAlg and keyLen bytes. A nil p means
// no parameters: block ciphers then have no mode and are refused, since
// KMIP fixes no default Block Cipher Mode.
func ResolveCipher(p *kmip.CryptographicParameters, keyAlg kmip.CryptographicAlgorithm, keyLen int) (CipherSpec, error) {
	if p == nil {
		p = &kmip.CryptographicParameters{}
	}
	alg := keyAlg
	if p.CryptographicAlgorithm != 0 && p.CryptographicAlgorithm != keyAlg {
		return CipherSpec{}, invalid("Cryptographic Algorithm %s does not match the key's algorithm %s",
			enumName(p.CryptographicAlgorithm), enumName(keyAlg))
	}
	if p.DigitalSignatureAlgorithm != 0 || p.SaltLength != nil || p.MaskGenerator != 0 ||
		p.MaskGeneratorHashingAlgorithm != 0 || len(p.PSource) > 0 || p.TrailerField != nil {
		return CipherSpec{}, invalid("Digital Signature Algorithm, Salt Length, Mask Generator, P Source and Trailer Field do not apply to symmetric encryption")
	}
	if p.FixedFieldLength != 0 || p.InvocationFieldLength != 0 {
		return CipherSpec{}, unsupported("Fixed Field Length and Invocation Field Length (server-built GCM IVs) are not supported; use Random IV or pass the IV/Counter/Nonce")
	}
	if p.InitialCounterValue != nil {
		return CipherSpec{}, unsupported("Initial Counter Value is not supported; pass the whole counter block as IV/Counter/Nonce")
	}
	s := CipherSpec{Algorithm: alg, Mode: p.BlockCipherMode, KeyLength: keyLen, RandomIV: p.RandomIV != nil && *p.RandomIV}
	var err error
	switch alg {
	case kmip.CryptographicAlgorithmAES, kmip.CryptographicAlgorithm3DES:
		err = resolveBlockCipher(&s, p)
	case kmip.CryptographicAlgorithmChaCha20Poly1305:
		err = resolveChaCha(&s, p)
	case 0:
		err = invalid("the key has no Cryptographic Algorithm")
	default:
		err = unsupported("Cryptographic Algorithm %s is not supported for symmetric encryption", enumName(alg))
	}
	if err != nil {
		return CipherSpec{}, err
	}
	return s, nil
}

func resolveBlockCipher(s *CipherSpec, p *kmip.CryptographicParameters) error {
	if err := checkBlockKey(s.Algorithm, s.Mode, s.KeyLength); err != nil {
		return err
	}
	if s.Mode == 0 {
		return invalid("Block Cipher Mode is required for %s", enumName(s.Algorithm))
	}
	if !modes[s.Algorithm][s.Mode] {
		return unsupported("Block Cipher Mode %s is not supported with %s", enumName(s.Mode), enumName(s.Algorithm))
	}
	if err := resolvePadding(s, p.PaddingMethod); err != nil {
		return err
	}
	if p.HashingAlgorithm != 0 {
		return invalid("Hashing Algorithm does not apply to Block Cipher Mode %s", enumName(s.Mode))
	}
	if p.CounterLength != 0 && s.Mode != kmip.BlockCipherModeCTR {
		return invalid("Counter Length applies only to Block Cipher Mode CTR")
	}
	if p.TagLength != 0 && s.Mode != kmip.BlockCipherModeGCM {
		return invalid("Tag Length applies only to authenticated encryption (GCM)")
	}
	bs := s.blockSize()
	switch s.Mode {
	case kmip.BlockCipherModeECB, kmip.BlockCipherModeNISTKeyWrap, kmip.BlockCipherModeAESKeyWrapPadding:
		if p.IVLength != 0 || s.RandomIV {
			return invalid("Block Cipher Mode %s takes no IV", enumName(s.Mode))
		}
		return nil
	case kmip.BlockCipherModeGCM:
		return resolveGCM(s, p)
	case kmip.BlockCipherModeCTR:
		s.CounterBits = bs * 8
		if p.CounterLength != 0 {
			if p.CounterLength < 8 || p.CounterLength > int32(bs*8) {
				return invalid("Counter Length must be between 8 and %d bits", bs*8)
			}
			s.CounterBits = int(p.CounterLength)
		}
	}
	// CBC, CFB, OFB, CTR and XTS take one block of IV (XTS: the tweak).
	s.IVLength = bs
	if p.IVLength != 0 && int(p.IVLength) != bs*8 {
		return invalid("IV Length must be %d bits for Block Cipher Mode %s", bs*8, enumName(s.Mode))
	}
	return nil
}

func checkBlockKey(alg kmip.CryptographicAlgorithm, mode kmip.BlockCipherMode, n int) error {
	if alg == kmip.CryptographicAlgorithm3DES {
		// Two-key (K1 K2 K1) and three-key Triple DES.
		if n != 16 && n != 24 {
			return fail(ErrInvalidKey, "a 3DES key must be 128 or 192 bits (with parity)")
		}
		return nil
	}
	if mode == kmip.BlockCipherModeXTS {
		// XTS-AES uses two AES keys of equal length (IEEE 1619).
		if n != 32 && n != 64 {
			return fail(ErrInvalidKey, "Block Cipher Mode XTS needs a key of 256 or 512 bits")
		}
		return nil
	}
	if n != 16 && n != 24 && n != 32 {
		return fail(ErrInvalidKey, "an AES key must be 128, 192 or 256 bits")
	}
	return nil
}

func resolvePadding(s *CipherSpec, pm kmip.PaddingMethod) error {
	switch pm {
	case 0, kmip.PaddingMethodNone:
		s.Padding = kmip.PaddingMethodNone
		return nil
	case kmip.PaddingMethodPKCS5:
		if s.Mode != kmip.BlockCipherModeECB && s.Mode != kmip.BlockCipherModeCBC {
			return invalid("Padding Method PKCS5 applies only to Block Cipher Modes ECB and CBC")
		}
		s.Padding = pm
		return nil
	case kmip.PaddingMethodOAEP, kmip.PaddingMethodPKCS1V1_5, kmip.PaddingMethodPSS, kmip.PaddingMethodX9_31:
		return invalid("Padding Method %s applies to RSA, not to %s", enumName(pm), enumName(s.Algorithm))
	default:
		return unsupported("Padding Method %s is not supported", enumName(pm))
	}
}

func resolveGCM(s *CipherSpec, p *kmip.CryptographicParameters) error {
	if s.Padding != kmip.PaddingMethodNone {
		return invalid("Padding Method does not apply to Block Cipher Mode GCM")
	}
	s.IVLength = DefaultGCMIVLength
	if p.IVLength != 0 {
		// KMIP IV Length is in bits; GCM accepts any whole number of
		// bytes, 96 bits being the recommended length.
		if p.IVLength%8 != 0 || p.IVLength < 8 || p.IVLength > 1024 {
			return invalid("IV Length for GCM must be a multiple of 8 bits between 8 and 1024")
		}
		s.IVLength = int(p.IVLength / 8)
	}
	s.TagLength = DefaultGCMTagLength
	if p.TagLength != 0 {
		// KMIP Tag Length is in bytes. SP 800-38D allows 4 and 8 bytes
		// only under constraints the server cannot check; they are refused.
		if p.TagLength < 12 || p.TagLength > 16 {
			return invalid("Tag Length for GCM must be between 12 and 16 bytes")
		}
		s.TagLength = int(p.TagLength)
	}
	// crypto/cipher offers either a non-standard IV length or a short tag,
	// not both at once.
	if s.IVLength != DefaultGCMIVLength && s.TagLength != DefaultGCMTagLength {
		return unsupported("GCM with an IV Length other than 96 bits needs a Tag Length of 16 bytes")
	}
	return nil
}

func resolveChaCha(s *CipherSpec, p *kmip.CryptographicParameters) error {
	if s.KeyLength != chachaKey {
		return fail(ErrInvalidKey, "a ChaCha20Poly1305 key must be 256 bits")
	}
	if p.BlockCipherMode != 0 && p.BlockCipherMode != kmip.BlockCipherModeAEAD {
		return invalid("Block Cipher Mode %s does not apply to ChaCha20Poly1305", enumName(p.BlockCipherMode))
	}
	s.Mode = 0
	if p.PaddingMethod != 0 && p.PaddingMethod != kmip.PaddingMethodNone {
		return invalid("Padding Method does not apply to ChaCha20Poly1305")
	}
	s.Padding = kmip.PaddingMethodNone
	if p.HashingAlgorithm != 0 || p.CounterLength != 0 {
		return invalid("Hashing Algorithm and Counter Length do not apply to ChaCha20Poly1305")
	}
	// RFC 8439 fixes a 96-bit nonce and a 128-bit tag.
	if p.IVLength != 0 && p.IVLength != chachaNonce*8 {
		return invalid("IV Length for ChaCha20Poly1305 must be 96 bits")
	}
	if p.TagLength != 0 && p.TagLength != chachaTag {
		return invalid("Tag Length for ChaCha20Poly1305 must be 16 bytes")
	}
	s.IVLength, s.TagLength = chachaNonce, chachaTag
	return nil
}
