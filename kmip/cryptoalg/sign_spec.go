package cryptoalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"

	"github.com/ovh/kmip-go"
)

// Signature schemes.
const (
	SchemeRSAPKCS1 = iota + 1 // RSASSA-PKCS1-v1_5
	SchemeRSAPSS              // RSASSA-PSS with MGF1
	SchemeECDSA               // ECDSA, ASN.1 DER signatures
	SchemeEd25519             // pure Ed25519 (RFC 8032)
)

// SignatureSpec is a validated Sign / Signature Verify configuration.
type SignatureSpec struct {
	Scheme     int
	Hash       crypto.Hash // 0 for Ed25519
	SaltLength int         // PSS salt length in bytes; 0: not given (see Sign and Verify)
}

// signatureAlgorithms is the one table of KMIP Digital Signature
// Algorithms: key algorithm, padding and hash. RSASSA-PSS takes its hash
// from Hashing Algorithm; MD2 and MD5 with RSA and DSA are refused.
var signatureAlgorithms = map[kmip.DigitalSignatureAlgorithm]struct {
	alg     kmip.CryptographicAlgorithm
	padding kmip.PaddingMethod
	hash    kmip.HashingAlgorithm
}{
	kmip.DigitalSignatureAlgorithmSHA_1WithRSAEncryption:    {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_1},
	kmip.DigitalSignatureAlgorithmSHA_224WithRSAEncryption:  {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_224},
	kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption:  {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_256},
	kmip.DigitalSignatureAlgorithmSHA_384WithRSAEncryption:  {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_384},
	kmip.DigitalSignatureAlgorithmSHA_512WithRSAEncryption:  {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_512},
	kmip.DigitalSignatureAlgorithmSHA3_256WithRSAEncryption: {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_3_256},
	kmip.DigitalSignatureAlgorithmSHA3_384WithRSAEncryption: {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_3_384},
	kmip.DigitalSignatureAlgorithmSHA3_512WithRSAEncryption: {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPKCS1V1_5, kmip.HashingAlgorithmSHA_3_512},
	kmip.DigitalSignatureAlgorithmRSASSA_PSS:                {kmip.CryptographicAlgorithmRSA, kmip.PaddingMethodPSS, 0},
	kmip.DigitalSignatureAlgorithmECDSAWithSHA_1:            {kmip.CryptographicAlgorithmECDSA, 0, kmip.HashingAlgorithmSHA_1},
	kmip.DigitalSignatureAlgorithmECDSAWithSHA224:           {kmip.CryptographicAlgorithmECDSA, 0, kmip.HashingAlgorithmSHA_224},
	kmip.DigitalSignatureAlgorithmECDSAWithSHA256:           {kmip.CryptographicAlgorithmECDSA, 0, kmip.HashingAlgorithmSHA_256},
	kmip.DigitalSignatureAlgorithmECDSAWithSHA384:           {kmip.CryptographicAlgorithmECDSA, 0, kmip.HashingAlgorithmSHA_384},
	kmip.DigitalSignatureAlgorithmECDSAWithSHA512:           {kmip.CryptographicAlgorithmECDSA, 0, kmip.HashingAlgorithmSHA_512},
}

// signingHash looks up a hash that may back a signature or OAEP.
func signingHash(field string, h kmip.HashingAlgorithm) (crypto.Hash, error) {
	info, err := lookupHash(field, h)
	if err != nil {
		return 0, err
	}
	if !info.forSignature {
		return 0, invalid("%s %s is refused for signatures and RSA padding", field, enumName(h))
	}
	return info.hash, nil
}

// keyScheme names the family of a Go key, private or public.
func keyScheme(key any) (kmip.CryptographicAlgorithm, bool) {
	switch key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return kmip.CryptographicAlgorithmRSA, true
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		return kmip.CryptographicAlgorithmECDSA, true
	case ed25519.PublicKey, ed25519.PrivateKey:
		// KMIP 1.4 has no Ed25519 enumeration (KMIP 2.0 adds one); such
		// keys are recognised by their Go type.
		return 0, true
	}
	return 0, false
}

// ResolveSignature validates the Cryptographic Parameters of Sign or
// Signature Verify for key (an *rsa, *ecdsa or ed25519 key, private or
// public). The scheme comes from Digital Signature Algorithm, or from
// Cryptographic Algorithm + Hashing Algorithm + Padding Method.
func ResolveSignature(p *kmip.CryptographicParameters, key any) (SignatureSpec, error) {
	if p == nil {
		p = &kmip.CryptographicParameters{}
	}
	family, ok := keyScheme(key)
	if !ok {
		return SignatureSpec{}, fail(ErrInvalidKey, "the key cannot sign: RSA, ECDSA and Ed25519 keys can")
	}
	if p.BlockCipherMode != 0 || p.IVLength != 0 || p.TagLength != 0 || p.RandomIV != nil || len(p.PSource) > 0 {
		return SignatureSpec{}, invalid("Block Cipher Mode, IV Length, Tag Length, Random IV and P Source do not apply to signatures")
	}
	alg, pad, h := p.CryptographicAlgorithm, p.PaddingMethod, p.HashingAlgorithm
	if p.DigitalSignatureAlgorithm != 0 {
		row, ok := signatureAlgorithms[p.DigitalSignatureAlgorithm]
		if !ok {
			return SignatureSpec{}, unsupported("Digital Signature Algorithm %s is not supported", enumName(p.DigitalSignatureAlgorithm))
		}
		if (alg != 0 && alg != row.alg && !(row.alg == kmip.CryptographicAlgorithmECDSA && alg == kmip.CryptographicAlgorithmEC)) ||
			(pad != 0 && pad != row.padding) || (h != 0 && row.hash != 0 && h != row.hash) {
			return SignatureSpec{}, invalid("Digital Signature Algorithm %s contradicts the Cryptographic Algorithm, Padding Method or Hashing Algorithm", enumName(p.DigitalSignatureAlgorithm))
		}
		alg, pad = row.alg, row.padding
		if row.hash != 0 {
			h = row.hash
		}
	}
	if alg == kmip.CryptographicAlgorithmEC {
		alg = kmip.CryptographicAlgorithmECDSA
	}
	if family == 0 { // Ed25519
		return resolveEd25519(pad, h, p)
	}
	if alg == 0 {
		alg = family
	}
	if alg != family {
		return SignatureSpec{}, fail(ErrInvalidKey, "Cryptographic Algorithm %s does not match the %s key", enumName(alg), enumName(family))
	}
	if h == 0 {
		return SignatureSpec{}, invalid("Hashing Algorithm (or a Digital Signature Algorithm naming one) is required")
	}
	hash, err := signingHash("Hashing Algorithm", h)
	if err != nil {
		return SignatureSpec{}, err
	}
	if alg == kmip.CryptographicAlgorithmECDSA {
		if (pad != 0 && pad != kmip.PaddingMethodNone) || p.SaltLength != nil || p.MaskGenerator != 0 || p.MaskGeneratorHashingAlgorithm != 0 {
			return SignatureSpec{}, invalid("Padding Method, Salt Length and Mask Generator do not apply to ECDSA")
		}
		return SignatureSpec{Scheme: SchemeECDSA, Hash: hash}, nil
	}
	return resolveRSASignature(pad, hash, p)
}

func resolveRSASignature(pad kmip.PaddingMethod, hash crypto.Hash, p *kmip.CryptographicParameters) (SignatureSpec, error) {
	switch pad {
	case kmip.PaddingMethodPKCS1V1_5:
		if p.SaltLength != nil || p.MaskGenerator != 0 || p.MaskGeneratorHashingAlgorithm != 0 {
			return SignatureSpec{}, invalid("Salt Length and Mask Generator apply only to Padding Method PSS")
		}
		return SignatureSpec{Scheme: SchemeRSAPKCS1, Hash: hash}, nil
	case kmip.PaddingMethodPSS:
	case 0:
		return SignatureSpec{}, invalid("Padding Method (PKCS1 v1.5 or PSS) is required for RSA signatures")
	default:
		return SignatureSpec{}, unsupported("Padding Method %s is not supported for RSA signatures", enumName(pad))
	}
	if p.MaskGenerator != 0 && p.MaskGenerator != kmip.MaskGeneratorMGF1 {
		return SignatureSpec{}, unsupported("Mask Generator %s is not supported", enumName(p.MaskGenerator))
	}
	if p.MaskGeneratorHashingAlgorithm != 0 {
		mgf, err := signingHash("Mask Generator Hashing Algorithm", p.MaskGeneratorHashingAlgorithm)
		if err != nil {
			return SignatureSpec{}, err
		}
		// crypto/rsa runs MGF1 with the message hash only.
		if mgf != hash {
			return SignatureSpec{}, unsupported("PSS with a Mask Generator Hashing Algorithm other than the Hashing Algorithm is not supported")
		}
	}
	if p.TrailerField != nil && *p.TrailerField != 1 {
		// Trailer field 1 is 0xBC, the only one RFC 8017 defines.
		return SignatureSpec{}, unsupported("Trailer Field %d is not supported", *p.TrailerField)
	}
	salt := 0 // not given: Sign uses the hash length, Verify accepts any
	if p.SaltLength != nil {
		switch {
		case *p.SaltLength < 0:
			return SignatureSpec{}, invalid("Salt Length must not be negative")
		case *p.SaltLength == 0:
			// crypto/rsa reads a zero salt length as "any length".
			return SignatureSpec{}, unsupported("PSS with a Salt Length of 0 is not supported")
		}
		salt = int(*p.SaltLength)
	}
	return SignatureSpec{Scheme: SchemeRSAPSS, Hash: hash, SaltLength: salt}, nil
}

func resolveEd25519(pad kmip.PaddingMethod, h kmip.HashingAlgorithm, p *kmip.CryptographicParameters) (SignatureSpec, error) {
	if p.CryptographicAlgorithm != 0 && p.CryptographicAlgorithm != kmip.CryptographicAlgorithmEC {
		return SignatureSpec{}, fail(ErrInvalidKey, "Cryptographic Algorithm %s does not match the Ed25519 key (EC or none)", enumName(p.CryptographicAlgorithm))
	}
	if p.DigitalSignatureAlgorithm != 0 {
		return SignatureSpec{}, invalid("no KMIP 1.4 Digital Signature Algorithm names Ed25519")
	}
	if h != 0 && h != kmip.HashingAlgorithmSHA_512 {
		return SignatureSpec{}, invalid("Ed25519 hashes with SHA-512 only")
	}
	if (pad != 0 && pad != kmip.PaddingMethodNone) || p.SaltLength != nil || p.MaskGenerator != 0 || p.MaskGeneratorHashingAlgorithm != 0 {
		return SignatureSpec{}, invalid("Padding Method, Salt Length and Mask Generator do not apply to Ed25519")
	}
	return SignatureSpec{Scheme: SchemeEd25519}, nil
}
