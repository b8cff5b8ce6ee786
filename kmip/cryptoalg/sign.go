package cryptoalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"hash"

	"github.com/ovh/kmip-go"
)

// checkKeyScheme refuses a key of another family than the spec's.
func checkKeyScheme(spec SignatureSpec, key any) error {
	fam, ok := keyScheme(key)
	var want kmip.CryptographicAlgorithm
	switch spec.Scheme {
	case SchemeRSAPKCS1, SchemeRSAPSS:
		want = kmip.CryptographicAlgorithmRSA
	case SchemeECDSA:
		want = kmip.CryptographicAlgorithmECDSA
	case SchemeEd25519:
		want = 0
	default:
		return invalid("the signature parameters were not resolved")
	}
	if !ok || fam != want {
		return fail(ErrInvalidKey, "the key does not fit the resolved signature parameters")
	}
	return nil
}

func (s SignatureSpec) checkDigest(digest []byte) error {
	if s.Scheme == SchemeEd25519 {
		return unsupported("Digested Data is not supported for Ed25519 (pure Ed25519 signs the message)")
	}
	if len(digest) != s.Hash.Size() {
		return fail(ErrInvalidData, "Digested Data must be %d bytes for the Hashing Algorithm", s.Hash.Size())
	}
	return nil
}

// SignDigest signs a digest computed by the client (KMIP 1.4 Digested
// Data). key may be any crypto.Signer of the spec's family (for example
// an *rsa.PrivateKey or *ecdsa.PrivateKey).
func SignDigest(spec SignatureSpec, key crypto.Signer, digest []byte) ([]byte, error) {
	if key == nil {
		return nil, fail(ErrInvalidKey, "no signing key")
	}
	if err := checkKeyScheme(spec, key.Public()); err != nil {
		return nil, err
	}
	if err := spec.checkDigest(digest); err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = spec.Hash
	if spec.Scheme == SchemeRSAPSS {
		if pub, ok := key.Public().(*rsa.PublicKey); ok && spec.SaltLength > pub.Size()-spec.Hash.Size()-2 {
			return nil, invalid("Salt Length %d is too long for the RSA key and hash", spec.SaltLength)
		}
		salt := spec.SaltLength
		if salt == 0 {
			salt = rsa.PSSSaltLengthEqualsHash // the common default
		}
		opts = &rsa.PSSOptions{SaltLength: salt, Hash: spec.Hash}
	}
	// ECDSA signatures from crypto/ecdsa's Sign are ASN.1 DER, the form
	// KMIP test cases record.
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fail(ErrInvalidKey, "signing failed with this key and parameters")
	}
	return sig, nil
}

// Sign hashes data with the spec's hash and signs it; Ed25519 signs data.
func Sign(spec SignatureSpec, key crypto.Signer, data []byte) ([]byte, error) {
	if spec.Scheme == SchemeEd25519 {
		return signEd25519(key, data)
	}
	if !spec.Hash.Available() {
		return nil, unsupported("the Hashing Algorithm is not available")
	}
	h := spec.Hash.New()
	h.Write(data)
	return SignDigest(spec, key, h.Sum(nil))
}

func signEd25519(key crypto.Signer, data []byte) ([]byte, error) {
	if key == nil {
		return nil, fail(ErrInvalidKey, "no signing key")
	}
	if _, ok := key.Public().(ed25519.PublicKey); !ok {
		return nil, fail(ErrInvalidKey, "the key does not fit the resolved signature parameters")
	}
	sig, err := key.Sign(rand.Reader, data, crypto.Hash(0))
	if err != nil {
		return nil, fail(ErrInvalidKey, "signing failed with this key")
	}
	return sig, nil
}

// VerifyDigest checks sig over a client-computed digest. nil means valid;
// ErrAuthentication means invalid (Validity Indicator Invalid); any other
// error is a refusal of the request.
func VerifyDigest(spec SignatureSpec, key crypto.PublicKey, digest, sig []byte) error {
	if err := checkKeyScheme(spec, key); err != nil {
		return err
	}
	if err := spec.checkDigest(digest); err != nil {
		return err
	}
	ok := false
	switch k := publicOf(key).(type) {
	case *rsa.PublicKey:
		if spec.Scheme == SchemeRSAPSS {
			// A Salt Length not given accepts any (rsa.PSSSaltLengthAuto is
			// 0): signers differ in the salt they use, and the signature
			// says which.
			ok = rsa.VerifyPSS(k, spec.Hash, digest, sig, &rsa.PSSOptions{SaltLength: spec.SaltLength, Hash: spec.Hash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, spec.Hash, digest, sig) == nil
		}
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	}
	if !ok {
		return fail(ErrAuthentication, "the signature does not verify")
	}
	return nil
}

// Verify checks sig over data.
func Verify(spec SignatureSpec, key crypto.PublicKey, data, sig []byte) error {
	if spec.Scheme == SchemeEd25519 {
		return verifyEd25519(key, data, sig)
	}
	if !spec.Hash.Available() {
		return unsupported("the Hashing Algorithm is not available")
	}
	h := spec.Hash.New()
	h.Write(data)
	return VerifyDigest(spec, key, h.Sum(nil), sig)
}

func verifyEd25519(key crypto.PublicKey, data, sig []byte) error {
	pub, ok := publicOf(key).(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return fail(ErrInvalidKey, "the key does not fit the resolved signature parameters")
	}
	if !ed25519.Verify(pub, data, sig) {
		return fail(ErrAuthentication, "the signature does not verify")
	}
	return nil
}

// publicOf returns the public half of a private key, or key itself.
func publicOf(key any) any {
	if k, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		switch key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.Public()
		}
	}
	return key
}

// signStream hashes incrementally, or buffers the message for Ed25519,
// which signs the whole message (bounded by max).
type signStream struct {
	spec SignatureSpec
	h    hash.Hash
	buf  buffer
	done bool
}

func newSignStream(spec SignatureSpec, maxBuffered int) (signStream, error) {
	if spec.Scheme == SchemeEd25519 {
		if maxBuffered < 0 {
			return signStream{}, fail(ErrLimit, "the buffer bound must not be negative")
		}
		return signStream{spec: spec, buf: buffer{max: maxBuffered}}, nil
	}
	if !spec.Hash.Available() {
		return signStream{}, unsupported("the Hashing Algorithm is not available")
	}
	return signStream{spec: spec, h: spec.Hash.New()}, nil
}

func (s *signStream) update(data []byte) error {
	if s.done {
		return fail(ErrFinished, "the signature stream is already finished")
	}
	if s.h == nil {
		if err := s.buf.add(data); err != nil {
			s.done = true
			return err
		}
		return nil
	}
	s.h.Write(data)
	return nil
}

func (s *signStream) wipe() {
	s.done = true
	if s.h != nil {
		s.h.Reset()
	}
	s.buf.wipe()
}

// Signer is a streaming Sign (KMIP 1.3 Init/Final Indicators).
type Signer struct {
	signStream
	key crypto.Signer
}

// NewSigner starts a streamed Sign. maxBuffered bounds the message an
// Ed25519 stream holds; hash-based schemes hold only the hash state.
func NewSigner(spec SignatureSpec, key crypto.Signer, maxBuffered int) (*Signer, error) {
	if key == nil {
		return nil, fail(ErrInvalidKey, "no signing key")
	}
	if err := checkKeyScheme(spec, key.Public()); err != nil {
		return nil, err
	}
	s, err := newSignStream(spec, maxBuffered)
	if err != nil {
		return nil, err
	}
	return &Signer{signStream: s, key: key}, nil
}

// Update adds data to the signed message.
func (s *Signer) Update(data []byte) error { return s.update(data) }

// Final adds data and returns the signature; the Signer is wiped.
func (s *Signer) Final(data []byte) ([]byte, error) {
	if err := s.update(data); err != nil {
		return nil, err
	}
	defer s.Wipe()
	if s.h == nil {
		return signEd25519(s.key, s.buf.data)
	}
	return SignDigest(s.spec, s.key, s.h.Sum(nil))
}

// Wipe clears the state; the Signer cannot be used after.
func (s *Signer) Wipe() { s.wipe() }

// Verifier is a streaming Signature Verify.
type Verifier struct {
	signStream
	key crypto.PublicKey
}

// NewVerifier starts a streamed Signature Verify.
func NewVerifier(spec SignatureSpec, key crypto.PublicKey, maxBuffered int) (*Verifier, error) {
	if err := checkKeyScheme(spec, key); err != nil {
		return nil, err
	}
	s, err := newSignStream(spec, maxBuffered)
	if err != nil {
		return nil, err
	}
	return &Verifier{signStream: s, key: key}, nil
}

// Update adds data to the verified message.
func (v *Verifier) Update(data []byte) error { return v.update(data) }

// Final adds data and checks sig: nil valid, ErrAuthentication invalid.
func (v *Verifier) Final(data, sig []byte) error {
	if err := v.update(data); err != nil {
		return err
	}
	defer v.Wipe()
	if v.h == nil {
		return verifyEd25519(v.key, v.buf.data, sig)
	}
	return VerifyDigest(v.spec, v.key, v.h.Sum(nil), sig)
}

// Wipe clears the state; the Verifier cannot be used after.
func (v *Verifier) Wipe() { v.wipe() }
