package cryptoalg

import (
	"crypto"
	"crypto/md5" //nolint:gosec // KMIP lists MD5 for the Hash operation; it is refused for signatures.
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding"
	"hash"

	"github.com/ovh/kmip-go"
)

// hashInfo is one row of the hash table: the Go hash a KMIP Hashing
// Algorithm stands for, and whether it may back a signature.
type hashInfo struct {
	hash crypto.Hash
	new  func() hash.Hash
	// forSignature is false for hashes too weak to sign with (MD5).
	forSignature bool
}

// hashes is the one table of KMIP Hashing Algorithms this package runs.
// MD2, MD4, RIPEMD-160, Tiger and Whirlpool are listed by KMIP but not
// offered by the Go standard library; they are refused as unsupported.
var hashes = map[kmip.HashingAlgorithm]hashInfo{
	kmip.HashingAlgorithmMD5:         {crypto.MD5, md5.New, false},
	kmip.HashingAlgorithmSHA_1:       {crypto.SHA1, sha1.New, true},
	kmip.HashingAlgorithmSHA_224:     {crypto.SHA224, sha256.New224, true},
	kmip.HashingAlgorithmSHA_256:     {crypto.SHA256, sha256.New, true},
	kmip.HashingAlgorithmSHA_384:     {crypto.SHA384, sha512.New384, true},
	kmip.HashingAlgorithmSHA_512:     {crypto.SHA512, sha512.New, true},
	kmip.HashingAlgorithmSHA_512_224: {crypto.SHA512_224, sha512.New512_224, true},
	kmip.HashingAlgorithmSHA_512_256: {crypto.SHA512_256, sha512.New512_256, true},
	kmip.HashingAlgorithmSHA_3_224:   {crypto.SHA3_224, func() hash.Hash { return sha3.New224() }, true},
	kmip.HashingAlgorithmSHA_3_256:   {crypto.SHA3_256, func() hash.Hash { return sha3.New256() }, true},
	kmip.HashingAlgorithmSHA_3_384:   {crypto.SHA3_384, func() hash.Hash { return sha3.New384() }, true},
	kmip.HashingAlgorithmSHA_3_512:   {crypto.SHA3_512, func() hash.Hash { return sha3.New512() }, true},
}

// enumName renders a KMIP enumeration value by its specification name.
func enumName(v encoding.TextMarshaler) string {
	b, err := v.MarshalText()
	if err != nil || len(b) == 0 {
		return "(unknown)"
	}
	return string(b)
}

// lookupHash returns the table row of h, or an error naming field.
func lookupHash(field string, h kmip.HashingAlgorithm) (hashInfo, error) {
	info, ok := hashes[h]
	if !ok {
		return hashInfo{}, unsupported("%s %s is not supported", field, enumName(h))
	}
	return info, nil
}

// HashFunc maps a KMIP Hashing Algorithm to the Go hash it stands for.
func HashFunc(h kmip.HashingAlgorithm) (crypto.Hash, error) {
	info, err := lookupHash("Hashing Algorithm", h)
	return info.hash, err
}

// HashSpec is the resolved Hash operation: which hash to run.
type HashSpec struct {
	Algorithm kmip.HashingAlgorithm
	Hash      crypto.Hash
}

// ResolveHash validates the Cryptographic Parameters of a Hash request:
// the Hashing Algorithm is required, and the cipher fields do not apply.
func ResolveHash(p *kmip.CryptographicParameters) (HashSpec, error) {
	if p == nil || p.HashingAlgorithm == 0 {
		return HashSpec{}, invalid("Hashing Algorithm is required for Hash")
	}
	if p.BlockCipherMode != 0 || p.PaddingMethod != 0 || p.DigitalSignatureAlgorithm != 0 {
		return HashSpec{}, invalid("Block Cipher Mode, Padding Method and Digital Signature Algorithm do not apply to Hash")
	}
	info, err := lookupHash("Hashing Algorithm", p.HashingAlgorithm)
	if err != nil {
		return HashSpec{}, err
	}
	return HashSpec{Algorithm: p.HashingAlgorithm, Hash: info.hash}, nil
}

// Hasher is a streaming hash for KMIP 1.3 streamed Hash requests.
type Hasher struct {
	h    hash.Hash
	done bool
}

// NewHasher starts a hash of the resolved algorithm.
func NewHasher(spec HashSpec) (*Hasher, error) {
	info, err := lookupHash("Hashing Algorithm", spec.Algorithm)
	if err != nil {
		return nil, err
	}
	return &Hasher{h: info.new()}, nil
}

// Update adds data to the hash.
func (s *Hasher) Update(data []byte) error {
	if s.done {
		return fail(ErrFinished, "the Hash stream is already finished")
	}
	s.h.Write(data)
	return nil
}

// Final adds data and returns the digest. The Hasher cannot be used after.
func (s *Hasher) Final(data []byte) ([]byte, error) {
	if err := s.Update(data); err != nil {
		return nil, err
	}
	s.done = true
	out := s.h.Sum(nil)
	s.h.Reset()
	return out, nil
}

// Wipe resets the hash state; the Hasher cannot be used after.
func (s *Hasher) Wipe() {
	s.h.Reset()
	s.done = true
}

// Hash is the one-shot Hash operation.
func Hash(spec HashSpec, data []byte) ([]byte, error) {
	s, err := NewHasher(spec)
	if err != nil {
		return nil, err
	}
	return s.Final(data)
}
