package cryptoalg

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ovh/kmip-go"
)

var wyHashes = map[string]kmip.HashingAlgorithm{"SHA-1": kmip.HashingAlgorithmSHA_1, "SHA-224": kmip.HashingAlgorithmSHA_224,
	"SHA-256": kmip.HashingAlgorithmSHA_256, "SHA-384": kmip.HashingAlgorithmSHA_384, "SHA-512": kmip.HashingAlgorithmSHA_512}

func bigHex(t *testing.T, s string) *big.Int { return new(big.Int).SetBytes(unhex(t, s)) }

func wyRSAPrivate(t *testing.T, raw json.RawMessage) *rsa.PrivateKey {
	t.Helper()
	var k struct {
		Modulus, PrivateExponent, PublicExponent, Prime1, Prime2 string
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: bigHex(t, k.Modulus), E: int(bigHex(t, k.PublicExponent).Int64())},
		D:         bigHex(t, k.PrivateExponent),
		Primes:    []*big.Int{bigHex(t, k.Prime1), bigHex(t, k.Prime2)},
	}
	priv.Precompute()
	if err := priv.Validate(); err != nil {
		t.Fatal(err)
	}
	return priv
}

func wyRSAPublic(t *testing.T, raw json.RawMessage) *rsa.PublicKey {
	t.Helper()
	var k struct{ Modulus, PublicExponent string }
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	return &rsa.PublicKey{N: bigHex(t, k.Modulus), E: int(bigHex(t, k.PublicExponent).Int64())}
}

func TestRSAOAEPWycheproof(t *testing.T) {
	names := []string{"2048_sha1_mgf1sha1", "2048_sha224_mgf1sha224", "2048_sha256_mgf1sha256", "2048_sha256_mgf1sha1", "2048_sha384_mgf1sha384", "2048_sha512_mgf1sha512"}
	for _, name := range names {
		f := loadWycheproof(t, "rsa_oaep_"+name+"_test")
		n := 0
		for _, g := range f.TestGroups {
			priv := wyRSAPrivate(t, g.PrivateKey)
			for _, tc := range g.Tests {
				spec, err := ResolveRSACipher(&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP,
					HashingAlgorithm: wyHashes[g.Sha], MaskGeneratorHashingAlgorithm: wyHashes[g.MGFSha], PSource: unhex(t, tc.Label)})
				if err != nil {
					t.Fatal(err)
				}
				got, err := RSADecrypt(spec, priv, unhex(t, tc.CT))
				if tc.valid() {
					if err != nil || !bytes.Equal(got, unhex(t, tc.Msg)) {
						t.Fatalf("%s tc %d: %x, %v", name, tc.TcID, got, err)
					}
					// Round trip through encryption (randomized).
					ct, err := RSAEncrypt(spec, &priv.PublicKey, got)
					if err != nil {
						t.Fatal(err)
					}
					if back, err := RSADecrypt(spec, priv, ct); err != nil || !bytes.Equal(back, got) {
						t.Fatalf("%s tc %d: round trip %v", name, tc.TcID, err)
					}
				} else if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrInvalidData) {
					t.Fatalf("%s tc %d (%s): err = %v", name, tc.TcID, tc.Comment, err)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no vector", name)
		}
	}
}

func TestRSAPKCS1DecryptWycheproof(t *testing.T) {
	spec, err := ResolveRSACipher(&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5})
	if err != nil {
		t.Fatal(err)
	}
	f := loadWycheproof(t, "rsa_pkcs1_2048_test")
	for _, g := range f.TestGroups {
		priv := wyRSAPrivate(t, g.PrivateKey)
		for _, tc := range g.Tests {
			got, err := RSADecrypt(spec, priv, unhex(t, tc.CT))
			if tc.valid() {
				if err != nil || !bytes.Equal(got, unhex(t, tc.Msg)) {
					t.Fatalf("tc %d: %x, %v", tc.TcID, got, err)
				}
			} else if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrInvalidData) {
				t.Fatalf("tc %d (%s): err = %v", tc.TcID, tc.Comment, err)
			}
		}
		ct, err := RSAEncrypt(spec, &priv.PublicKey, []byte("key material"))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := RSADecrypt(spec, priv, ct); err != nil || string(back) != "key material" {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := RSAEncrypt(spec, &priv.PublicKey, make([]byte, 250)); !errors.Is(err, ErrInvalidData) {
			t.Fatalf("too long: %v", err)
		}
	}
}

func TestResolveRSACipherRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		p    *kmip.CryptographicParameters
		kind error
	}{
		"no padding":      {nil, ErrInvalidParameters},
		"PSS":             {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS}, ErrUnsupported},
		"OAEP MD5":        {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, HashingAlgorithm: kmip.HashingAlgorithmMD5}, ErrInvalidParameters},
		"PKCS1 with hash": {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, ErrInvalidParameters},
		"PKCS1 label":     {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5, PSource: []byte("x")}, ErrInvalidParameters},
		"AES algorithm":   {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, CryptographicAlgorithm: kmip.CryptographicAlgorithmAES}, ErrInvalidParameters},
		"CBC":             {&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, BlockCipherMode: kmip.BlockCipherModeCBC}, ErrInvalidParameters},
	} {
		if _, err := ResolveRSACipher(c.p); !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", name, err, c.kind)
		}
	}
	s, err := ResolveRSACipher(&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP, HashingAlgorithm: kmip.HashingAlgorithmSHA_384})
	if err != nil || s.Hash != crypto.SHA384 || s.MGFHash != crypto.SHA384 {
		t.Fatalf("MGF1 hash defaults to the Hashing Algorithm: %+v %v", s, err)
	}
	s, _ = ResolveRSACipher(&kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodOAEP})
	if s.Hash != crypto.SHA1 || s.MGFHash != crypto.SHA1 {
		t.Fatalf("OAEP defaults: %+v", s)
	}
}

func mustSig(t *testing.T, p *kmip.CryptographicParameters, key any) SignatureSpec {
	t.Helper()
	s, err := ResolveSignature(p, key)
	if err != nil {
		t.Fatalf("ResolveSignature: %v", err)
	}
	return s
}

// TestRSAPKCS1SignWycheproof: PKCS#1 v1.5 signatures are deterministic, so
// Sign must reproduce the vectors exactly.
func TestRSAPKCS1SignWycheproof(t *testing.T) {
	f := loadWycheproof(t, "rsa_pkcs1_2048_sig_gen_test")
	n := 0
	for _, g := range f.TestGroups {
		// These groups give the private key without its primes; the
		// PKCS#8 encoding carries them.
		k, err := x509.ParsePKCS8PrivateKey(unhex(t, g.PrivateKeyPKCS8))
		if err != nil {
			t.Fatal(err)
		}
		priv := k.(*rsa.PrivateKey)
		spec := mustSig(t, &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5, HashingAlgorithm: wyHashes[g.Sha]}, priv)
		for _, tc := range g.Tests {
			sig, err := Sign(spec, priv, unhex(t, tc.Msg))
			if err != nil || !bytes.Equal(sig, unhex(t, tc.Sig)) {
				t.Fatalf("tc %d: %v", tc.TcID, err)
			}
			if err := Verify(spec, &priv.PublicKey, unhex(t, tc.Msg), sig); err != nil {
				t.Fatalf("tc %d: verify: %v", tc.TcID, err)
			}
			n++
		}
	}
	t.Logf("%d vectors", n)
}

func TestRSAPKCS1VerifyWycheproof(t *testing.T) {
	f := loadWycheproof(t, "rsa_signature_2048_sha256_test")
	for _, g := range f.TestGroups {
		pub := wyRSAPublic(t, g.PublicKey)
		spec := mustSig(t, &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption}, pub)
		for _, tc := range g.Tests {
			err := Verify(spec, pub, unhex(t, tc.Msg), unhex(t, tc.Sig))
			if tc.Result == "valid" && err != nil {
				t.Fatalf("tc %d: %v", tc.TcID, err)
			}
			if tc.Result == "invalid" && !errors.Is(err, ErrAuthentication) {
				t.Fatalf("tc %d (%s): err = %v", tc.TcID, tc.Comment, err)
			}
		}
	}
}

func TestRSAPSSWycheproof(t *testing.T) {
	var run, refused int
	for _, name := range []string{"2048_sha256_mgf1_32", "2048_sha1_mgf1_20", "2048_sha256_mgf1_0", "2048_sha384_mgf1_48", "2048_sha256_mgf1sha1_20"} {
		f := loadWycheproof(t, "rsa_pss_"+name+"_test")
		for _, g := range f.TestGroups {
			pub := wyRSAPublic(t, g.PublicKey)
			salt := int32(g.SLen)
			spec, err := ResolveSignature(&kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmRSASSA_PSS,
				HashingAlgorithm: wyHashes[g.Sha], MaskGenerator: kmip.MaskGeneratorMGF1,
				MaskGeneratorHashingAlgorithm: wyHashes[g.MGFSha], SaltLength: &salt}, pub)
			if g.SLen == 0 || g.MGFSha != g.Sha {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%s: err = %v, want ErrUnsupported", name, err)
				}
				refused += len(g.Tests)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range g.Tests {
				err := Verify(spec, pub, unhex(t, tc.Msg), unhex(t, tc.Sig))
				if tc.Result == "valid" && err != nil {
					t.Fatalf("%s tc %d: %v", name, tc.TcID, err)
				}
				if tc.Result == "invalid" && !errors.Is(err, ErrAuthentication) {
					t.Fatalf("%s tc %d (%s): err = %v", name, tc.TcID, tc.Comment, err)
				}
				run++
			}
		}
	}
	t.Logf("%d run, %d in refused groups", run, refused)
}

var wyCurves = map[string]elliptic.Curve{"secp224r1": elliptic.P224(), "secp256r1": elliptic.P256(), "secp384r1": elliptic.P384(), "secp521r1": elliptic.P521()}

func TestECDSAVerifyWycheproof(t *testing.T) {
	for _, name := range []string{"secp224r1_sha224", "secp256r1_sha256", "secp384r1_sha384", "secp521r1_sha512"} {
		f := loadWycheproof(t, "ecdsa_"+name+"_test")
		for _, g := range f.TestGroups {
			var k struct{ Curve, Wx, Wy string }
			if err := json.Unmarshal(g.PublicKey, &k); err != nil {
				t.Fatal(err)
			}
			pub := &ecdsa.PublicKey{Curve: wyCurves[k.Curve], X: bigHex(t, k.Wx), Y: bigHex(t, k.Wy)}
			spec := mustSig(t, &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmECDSA, HashingAlgorithm: wyHashes[g.Sha]}, pub)
			for _, tc := range g.Tests {
				err := Verify(spec, pub, unhex(t, tc.Msg), unhex(t, tc.Sig))
				if tc.Result == "valid" && err != nil {
					t.Fatalf("%s tc %d: %v", name, tc.TcID, err)
				}
				if tc.Result == "invalid" && !errors.Is(err, ErrAuthentication) {
					t.Fatalf("%s tc %d (%s): err = %v", name, tc.TcID, tc.Comment, err)
				}
			}
		}
	}
}

// TestECDSASigVerCAVP runs the CAVP SigVer subset over digests (the
// Digested Data path); the digest length names the hash.
func TestECDSASigVerCAVP(t *testing.T) {
	curves := map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
	byLen := map[int]kmip.HashingAlgorithm{20: kmip.HashingAlgorithmSHA_1, 28: kmip.HashingAlgorithmSHA_224, 32: kmip.HashingAlgorithmSHA_256, 48: kmip.HashingAlgorithmSHA_384, 64: kmip.HashingAlgorithmSHA_512}
	var valid, invalid int
	for _, r := range readRecords(t, "cavp/ecdsa_sigver.txt") {
		pub := &ecdsa.PublicKey{Curve: curves[r.fields["Curve"]], X: new(big.Int).SetBytes(r.bytes(t, "X")), Y: new(big.Int).SetBytes(r.bytes(t, "Y"))}
		digest := r.bytes(t, "Digest")
		sig, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r.bytes(t, "R")), new(big.Int).SetBytes(r.bytes(t, "S"))})
		if err != nil {
			t.Fatal(err)
		}
		spec := mustSig(t, &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmEC, HashingAlgorithm: byLen[len(digest)]}, pub)
		err = VerifyDigest(spec, pub, digest, sig)
		if r.has("Invalid") {
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("line %d: err = %v, want ErrAuthentication", r.line, err)
			}
			invalid++
		} else {
			if err != nil {
				t.Fatalf("line %d: %v", r.line, err)
			}
			valid++
		}
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("%d valid, %d invalid", valid, invalid)
	}
}

// TestEd25519Vectors: RFC 8032 section 7.1 (and sign.input) signatures are
// deterministic; Wycheproof adds malformed signatures.
func TestEd25519Vectors(t *testing.T) {
	for _, r := range readRecords(t, "rfc/ed25519.txt") {
		priv := ed25519.NewKeyFromSeed(r.bytes(t, "PRIV")[:32])
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), r.bytes(t, "PUB")) {
			t.Fatalf("line %d: public key differs", r.line)
		}
		spec := mustSig(t, nil, priv)
		sig, err := Sign(spec, priv, r.bytes(t, "MESSAGE"))
		if err != nil || !bytes.Equal(sig, r.bytes(t, "SIG")) {
			t.Fatalf("line %d: %x, %v", r.line, sig, err)
		}
	}
	f := loadWycheproof(t, "ed25519_test")
	for _, g := range f.TestGroups {
		var k struct{ Pk string }
		if err := json.Unmarshal(g.PublicKey, &k); err != nil {
			t.Fatal(err)
		}
		pub := ed25519.PublicKey(unhex(t, k.Pk))
		spec := mustSig(t, &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmEC}, pub)
		for _, tc := range g.Tests {
			err := Verify(spec, pub, unhex(t, tc.Msg), unhex(t, tc.Sig))
			if tc.valid() != (err == nil) || (err != nil && !errors.Is(err, ErrAuthentication)) {
				t.Fatalf("tc %d (%s): err = %v", tc.TcID, tc.Comment, err)
			}
		}
	}
}

type testKeys struct {
	rsa *rsa.PrivateKey
	ec  map[string]*ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

func genKeys(t *testing.T) testKeys {
	t.Helper()
	k := testKeys{ec: map[string]*ecdsa.PrivateKey{}}
	var err error
	if k.rsa, err = rsa.GenerateKey(crand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()} {
		if k.ec[name], err = ecdsa.GenerateKey(c, crand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	_, k.ed, _ = ed25519.GenerateKey(crand.Reader)
	return k
}

// TestSignRoundTripsAndStreaming signs with every scheme, over data, over
// a digest and streamed in random chunks, and verifies each way.
func TestSignRoundTripsAndStreaming(t *testing.T) {
	keys := genKeys(t)
	salt := int32(20)
	type c struct {
		name string
		p    *kmip.CryptographicParameters
		key  crypto.Signer
	}
	cases := []c{
		{"PKCS1 SHA-256", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption}, keys.rsa},
		{"PKCS1 SHA3-256", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA3_256WithRSAEncryption}, keys.rsa},
		{"PKCS1 by parts", &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmRSA, PaddingMethod: kmip.PaddingMethodPKCS1V1_5, HashingAlgorithm: kmip.HashingAlgorithmSHA_512}, keys.rsa},
		{"PSS default salt", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmRSASSA_PSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, keys.rsa},
		{"PSS salt 20", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_384, SaltLength: &salt, MaskGenerator: kmip.MaskGeneratorMGF1, MaskGeneratorHashingAlgorithm: kmip.HashingAlgorithmSHA_384}, keys.rsa},
		{"Ed25519", nil, keys.ed},
	}
	for name, k := range keys.ec {
		cases = append(cases, c{"ECDSA " + name, &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}, k})
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := mustSig(t, tc.p, tc.key)
			pub := tc.key.Public()
			data := make([]byte, 1+r.IntN(300))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			sig, err := Sign(spec, tc.key, data)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(spec, pub, data, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			bad := bytes.Clone(data)
			bad[0] ^= 1
			if err := Verify(spec, pub, bad, sig); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("Verify of other data: %v", err)
			}
			if spec.Scheme != SchemeEd25519 {
				h := spec.Hash.New()
				h.Write(data)
				d := h.Sum(nil)
				dsig, err := SignDigest(spec, tc.key, d)
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(spec, pub, data, dsig); err != nil {
					t.Fatalf("digest signature over data: %v", err)
				}
				if err := VerifyDigest(spec, pub, d, sig); err != nil {
					t.Fatalf("data signature over digest: %v", err)
				}
				if _, err := SignDigest(spec, tc.key, d[1:]); !errors.Is(err, ErrInvalidData) {
					t.Fatalf("short digest: %v", err)
				}
			} else if _, err := SignDigest(spec, tc.key, data); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Ed25519 digest: %v", err)
			}
			s, err := NewSigner(spec, tc.key, len(data))
			if err != nil {
				t.Fatal(err)
			}
			v, err := NewVerifier(spec, pub, len(data))
			if err != nil {
				t.Fatal(err)
			}
			parts := chunks(r, data)
			for _, p := range parts[:len(parts)-1] {
				if s.Update(p) != nil || v.Update(p) != nil {
					t.Fatal("Update failed")
				}
			}
			ssig, err := s.Final(parts[len(parts)-1])
			if err != nil {
				t.Fatal(err)
			}
			if spec.Scheme == SchemeRSAPKCS1 || spec.Scheme == SchemeEd25519 {
				if !bytes.Equal(ssig, sig) {
					t.Fatal("streamed deterministic signature differs from one-shot")
				}
			}
			if err := v.Final(parts[len(parts)-1], ssig); err != nil {
				t.Fatalf("streamed verify: %v", err)
			}
			if err := Verify(spec, pub, data, ssig); err != nil {
				t.Fatalf("streamed signature: %v", err)
			}
			if err := s.Update(nil); !errors.Is(err, ErrFinished) {
				t.Fatalf("Update after Final: %v", err)
			}
		})
	}
}

func TestResolveSignatureRefusals(t *testing.T) {
	keys := genKeys(t)
	ec := keys.ec["P-256"]
	zero := int32(0)
	cases := []struct {
		name string
		p    *kmip.CryptographicParameters
		key  any
		kind error
	}{
		{"RSA without padding", &kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, keys.rsa, ErrInvalidParameters},
		{"RSA without hash", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5}, keys.rsa, ErrInvalidParameters},
		{"MD5 with RSA", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmMD5WithRSAEncryption}, keys.rsa, ErrUnsupported},
		{"MD5 hash", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5, HashingAlgorithm: kmip.HashingAlgorithmMD5}, keys.rsa, ErrInvalidParameters},
		{"DSA", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmDSAWithSHA256}, keys.rsa, ErrUnsupported},
		{"ECDSA enum with RSA key", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}, keys.rsa, ErrInvalidKey},
		{"RSA enum with EC key", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption}, ec, ErrInvalidKey},
		{"enum contradicts hash", &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption, HashingAlgorithm: kmip.HashingAlgorithmSHA_1}, keys.rsa, ErrInvalidParameters},
		{"PSS MGF hash differs", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256, MaskGeneratorHashingAlgorithm: kmip.HashingAlgorithmSHA_1}, keys.rsa, ErrUnsupported},
		{"PSS salt 0", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256, SaltLength: &zero}, keys.rsa, ErrUnsupported},
		{"PKCS1 with salt", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS1V1_5, HashingAlgorithm: kmip.HashingAlgorithmSHA_256, SaltLength: &zero}, keys.rsa, ErrInvalidParameters},
		{"ECDSA with PSS", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, ec, ErrInvalidParameters},
		{"ECDSA without hash", nil, ec, ErrInvalidParameters},
		{"Ed25519 with SHA-256", &kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, keys.ed, ErrInvalidParameters},
		{"Ed25519 as RSA", &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmRSA}, keys.ed, ErrInvalidKey},
		{"AES key", nil, []byte("not a key"), ErrInvalidKey},
		{"block mode", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, HashingAlgorithm: kmip.HashingAlgorithmSHA_256}, ec, ErrInvalidParameters},
	}
	for _, c := range cases {
		if _, err := ResolveSignature(c.p, c.key); !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.kind)
		}
	}
	// A spec resolved for one family refuses a key of another.
	spec := mustSig(t, &kmip.CryptographicParameters{DigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256}, ec)
	if _, err := Sign(spec, keys.rsa, []byte("x")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Sign with an RSA key and an ECDSA spec: %v", err)
	}
	if err := Verify(spec, &keys.rsa.PublicKey, []byte("x"), []byte("y")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Verify with an RSA key and an ECDSA spec: %v", err)
	}
	big := int32(300)
	pss := mustSig(t, &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPSS, HashingAlgorithm: kmip.HashingAlgorithmSHA_256, SaltLength: &big}, keys.rsa)
	if _, err := Sign(pss, keys.rsa, []byte("x")); !errors.Is(err, ErrInvalidParameters) {
		t.Errorf("Salt Length too long: %v", err)
	}
}
