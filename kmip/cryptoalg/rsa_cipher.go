package cryptoalg

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"

	"github.com/ovh/kmip-go"
)

// RSACipherSpec is a validated RSA Encrypt/Decrypt configuration.
type RSACipherSpec struct {
	Padding kmip.PaddingMethod // OAEP or PKCS1V1_5
	Hash    crypto.Hash        // OAEP hash
	MGFHash crypto.Hash        // OAEP MGF1 hash
	Label   []byte             // OAEP label (KMIP P Source)
}

// ResolveRSACipher validates the Cryptographic Parameters of an RSA
// Encrypt or Decrypt. Padding Method is required. For OAEP the Hashing
// Algorithm defaults to SHA-1 (the RSAES-OAEP default of RFC 8017 appendix
// A.2.1), the Mask Generator to MGF1, and the Mask Generator Hashing
// Algorithm to the Hashing Algorithm.
func ResolveRSACipher(p *kmip.CryptographicParameters) (RSACipherSpec, error) {
	if p == nil {
		p = &kmip.CryptographicParameters{}
	}
	if p.CryptographicAlgorithm != 0 && p.CryptographicAlgorithm != kmip.CryptographicAlgorithmRSA {
		return RSACipherSpec{}, invalid("Cryptographic Algorithm %s does not match the RSA key", enumName(p.CryptographicAlgorithm))
	}
	if p.BlockCipherMode != 0 || p.IVLength != 0 || p.TagLength != 0 || p.RandomIV != nil || p.DigitalSignatureAlgorithm != 0 || p.SaltLength != nil {
		return RSACipherSpec{}, invalid("Block Cipher Mode, IV Length, Tag Length, Random IV, Digital Signature Algorithm and Salt Length do not apply to RSA encryption")
	}
	switch p.PaddingMethod {
	case kmip.PaddingMethodPKCS1V1_5:
		if p.HashingAlgorithm != 0 || p.MaskGenerator != 0 || p.MaskGeneratorHashingAlgorithm != 0 || len(p.PSource) > 0 {
			return RSACipherSpec{}, invalid("Hashing Algorithm, Mask Generator and P Source apply only to Padding Method OAEP")
		}
		return RSACipherSpec{Padding: p.PaddingMethod}, nil
	case kmip.PaddingMethodOAEP:
	case 0:
		return RSACipherSpec{}, invalid("Padding Method is required for RSA encryption (OAEP or PKCS1 v1.5)")
	default:
		return RSACipherSpec{}, unsupported("Padding Method %s is not supported for RSA encryption", enumName(p.PaddingMethod))
	}
	h := p.HashingAlgorithm
	if h == 0 {
		h = kmip.HashingAlgorithmSHA_1
	}
	hash, err := signingHash("Hashing Algorithm", h)
	if err != nil {
		return RSACipherSpec{}, err
	}
	if p.MaskGenerator != 0 && p.MaskGenerator != kmip.MaskGeneratorMGF1 {
		return RSACipherSpec{}, unsupported("Mask Generator %s is not supported", enumName(p.MaskGenerator))
	}
	mgf := hash
	if p.MaskGeneratorHashingAlgorithm != 0 {
		if mgf, err = signingHash("Mask Generator Hashing Algorithm", p.MaskGeneratorHashingAlgorithm); err != nil {
			return RSACipherSpec{}, err
		}
	}
	return RSACipherSpec{Padding: kmip.PaddingMethodOAEP, Hash: hash, MGFHash: mgf, Label: append([]byte(nil), p.PSource...)}, nil
}

// RSAEncrypt encrypts data to pub.
func RSAEncrypt(spec RSACipherSpec, pub *rsa.PublicKey, data []byte) ([]byte, error) {
	if pub == nil || pub.N == nil {
		return nil, fail(ErrInvalidKey, "no RSA public key")
	}
	var (
		out []byte
		err error
	)
	switch spec.Padding {
	case kmip.PaddingMethodOAEP:
		out, err = rsa.EncryptOAEPWithOptions(rand.Reader, pub, data, &rsa.OAEPOptions{Hash: spec.Hash, MGFHash: spec.MGFHash, Label: spec.Label})
	case kmip.PaddingMethodPKCS1V1_5:
		out, err = rsa.EncryptPKCS1v15(rand.Reader, pub, data)
	default:
		return nil, invalid("Padding Method is required for RSA encryption")
	}
	if err != nil {
		if len(data) > pub.Size() {
			return nil, fail(ErrInvalidData, "the data is too long for the RSA key")
		}
		// The library's reasons (message too long for the padding, key
		// too small) are summed up without their text.
		return nil, fail(ErrInvalidData, "the data is too long for the RSA key and padding, or the key is unusable")
	}
	return out, nil
}

// RSADecrypt decrypts data with priv. Any padding failure is
// ErrAuthentication with one reason, so the answer is no padding oracle
// (crypto/rsa also decrypts PKCS#1 v1.5 without a timing side channel).
func RSADecrypt(spec RSACipherSpec, priv *rsa.PrivateKey, data []byte) ([]byte, error) {
	if priv == nil || priv.N == nil {
		return nil, fail(ErrInvalidKey, "no RSA private key")
	}
	if len(data) != priv.Size() {
		return nil, fail(ErrInvalidData, "the ciphertext must be %d bytes, the size of the RSA modulus", priv.Size())
	}
	var (
		out []byte
		err error
	)
	switch spec.Padding {
	case kmip.PaddingMethodOAEP:
		out, err = priv.Decrypt(nil, data, &rsa.OAEPOptions{Hash: spec.Hash, MGFHash: spec.MGFHash, Label: spec.Label})
	case kmip.PaddingMethodPKCS1V1_5:
		out, err = rsa.DecryptPKCS1v15(nil, priv, data)
	default:
		return nil, invalid("Padding Method is required for RSA decryption")
	}
	if err != nil {
		return nil, fail(ErrAuthentication, "decryption failed")
	}
	return out, nil
}
