package cryptoalg

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

// katCipher checks one known answer both ways with one-shot calls.
func katCipher(t *testing.T, spec CipherSpec, key, iv, aad, pt, ct, tag []byte) {
	t.Helper()
	if iv == nil && spec.IVLength > 0 {
		t.Fatalf("vector without IV for a mode that needs one")
	}
	got, _, gotTag, err := Encrypt(spec, key, iv, aad, pt)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if !bytes.Equal(got, ct) || !bytes.Equal(gotTag, tag) {
		t.Fatalf("Encrypt = %x tag %x, want %x tag %x", got, gotTag, ct, tag)
	}
	back, err := Decrypt(spec, key, iv, aad, ct, tag)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(back, pt) {
		t.Fatalf("Decrypt = %x, want %x", back, pt)
	}
}

func mustCipher(t *testing.T, p *kmip.CryptographicParameters, alg kmip.CryptographicAlgorithm, keyLen int) CipherSpec {
	t.Helper()
	s, err := ResolveCipher(p, alg, keyLen)
	if err != nil {
		t.Fatalf("ResolveCipher: %v", err)
	}
	return s
}

// cipherName maps the cipher names of the BoringSSL/CAVP files.
func cipherName(t *testing.T, name string) (kmip.CryptographicAlgorithm, kmip.BlockCipherMode) {
	t.Helper()
	switch {
	case name == "DES-EDE3":
		return kmip.CryptographicAlgorithm3DES, kmip.BlockCipherModeECB
	case name == "DES-EDE3-CBC":
		return kmip.CryptographicAlgorithm3DES, kmip.BlockCipherModeCBC
	case strings.HasPrefix(name, "AES-"):
		m := map[string]kmip.BlockCipherMode{"ECB": kmip.BlockCipherModeECB, "CBC": kmip.BlockCipherModeCBC,
			"OFB": kmip.BlockCipherModeOFB, "CTR": kmip.BlockCipherModeCTR, "CFB": kmip.BlockCipherModeCFB}
		mode, ok := m[name[strings.LastIndex(name, "-")+1:]]
		if !ok {
			t.Fatalf("unknown cipher %s", name)
		}
		return kmip.CryptographicAlgorithmAES, mode
	}
	t.Fatalf("unknown cipher %s", name)
	return 0, 0
}

// TestBlockModeKATs runs the CAVP KAT subsets (AES CBC GFSbox/KeySbox/
// VarKey/VarTxt, AES CTR, TDES TCBC/TECB) and the SP 800-38A appendix F
// vectors for ECB, CBC, OFB and CTR, without padding.
func TestBlockModeKATs(t *testing.T) {
	for _, file := range []string{"cavp/aes_cbc.txt", "cavp/aes_ctr.txt", "cavp/tdes_cbc.txt", "cavp/tdes_ecb.txt", "cavp/sp800_38a.txt"} {
		recs := readRecords(t, file)
		t.Run(file, func(t *testing.T) {
			for _, r := range recs {
				alg, mode := cipherName(t, r.fields["Cipher"])
				key := r.bytes(t, "Key")
				var iv []byte
				if r.has("IV") {
					iv = r.bytes(t, "IV")
				}
				spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: mode}, alg, len(key))
				katCipher(t, spec, key, iv, nil, r.bytes(t, "Plaintext"), r.bytes(t, "Ciphertext"), nil)
			}
			t.Logf("%d vectors", len(recs))
		})
	}
}

// TestCFB128KAT runs the CAVP CFB128 KeySbox subset (AES-256).
func TestCFB128KAT(t *testing.T) {
	recs := readRecords(t, "cavp/CFB128KeySbox256.rsp")
	for _, r := range recs {
		key, iv := r.bytes(t, "KEY"), r.bytes(t, "IV")
		spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCFB}, kmip.CryptographicAlgorithmAES, len(key))
		katCipher(t, spec, key, iv, nil, r.bytes(t, "PLAINTEXT"), r.bytes(t, "CIPHERTEXT"), nil)
	}
}

// TestAESCBCPKCS5Wycheproof: valid vectors both ways, invalid ciphertexts
// (bad padding, wrong length) refused.
func TestAESCBCPKCS5Wycheproof(t *testing.T) {
	f := loadWycheproof(t, "aes_cbc_pkcs5_test")
	n := 0
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			key, iv, msg, ct := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.Msg), unhex(t, tc.CT)
			spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC,
				PaddingMethod: kmip.PaddingMethodPKCS5}, kmip.CryptographicAlgorithmAES, len(key))
			if tc.valid() {
				katCipher(t, spec, key, iv, nil, msg, ct, nil)
			} else {
				_, err := Decrypt(spec, key, iv, nil, ct, nil)
				if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrInvalidData) {
					t.Fatalf("tc %d (%s): Decrypt err = %v, want a refusal", tc.TcID, tc.Comment, err)
				}
			}
			n++
		}
	}
	t.Logf("%d vectors", n)
}

// gcmSupported is the GCM parameter space ResolveCipher accepts (bits).
func gcmSupported(keyBits, ivBits, tagBits int) bool {
	return (keyBits == 128 || keyBits == 192 || keyBits == 256) && ivBits >= 8 && ivBits <= 1024 && ivBits%8 == 0 &&
		tagBits >= 96 && tagBits <= 128 && tagBits%8 == 0 && (ivBits == 96 || tagBits == 128)
}

func gcmParams(ivBits, tagBits int) *kmip.CryptographicParameters {
	return &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, IVLength: int32(ivBits), TagLength: int32(tagBits / 8)}
}

func TestAESGCMWycheproof(t *testing.T) {
	f := loadWycheproof(t, "aes_gcm_test")
	var run, refused int
	for _, g := range f.TestGroups {
		spec, err := ResolveCipher(gcmParams(g.IVSize, g.TagSize), kmip.CryptographicAlgorithmAES, g.KeySize/8)
		if g.IVSize == 0 {
			// IV Length 0 is "not given" (the 96-bit default); an empty
			// IV/Counter/Nonce must then be refused.
			refused += refuseEmptyIV(t, spec, err, g.Tests)
			continue
		}
		if !gcmSupported(g.KeySize, g.IVSize, g.TagSize) {
			if err == nil {
				t.Fatalf("key %d iv %d tag %d: accepted, want a refusal", g.KeySize, g.IVSize, g.TagSize)
			}
			refused += len(g.Tests)
			continue
		}
		if err != nil {
			t.Fatalf("key %d iv %d tag %d: %v", g.KeySize, g.IVSize, g.TagSize, err)
		}
		for _, tc := range g.Tests {
			key, iv, aad := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.AAD)
			msg, ct, tag := unhex(t, tc.Msg), unhex(t, tc.CT), unhex(t, tc.Tag)
			if tc.valid() {
				katCipher(t, spec, key, iv, aad, msg, ct, tag)
			} else if _, err := Decrypt(spec, key, iv, aad, ct, tag); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("tc %d: Decrypt err = %v, want ErrAuthentication", tc.TcID, err)
			}
			run++
		}
	}
	t.Logf("%d vectors run, %d in refused parameter groups", run, refused)
}

// TestAESGCMACVP runs the NIST ACVP AES-GCM sample vector set.
func TestAESGCMACVP(t *testing.T) {
	f := loadACVP(t, "ACVP-AES-GCM")
	var run, refused int
	for _, g := range f.TestGroups {
		spec, err := ResolveCipher(gcmParams(g.IVLen, g.TagLen), kmip.CryptographicAlgorithmAES, g.KeyLen/8)
		if !gcmSupported(g.KeyLen, g.IVLen, g.TagLen) {
			if err == nil {
				t.Fatalf("tg %d: accepted, want a refusal", g.TgID)
			}
			refused += len(g.Tests)
			continue
		}
		if err != nil {
			t.Fatalf("tg %d: %v", g.TgID, err)
		}
		for _, tc := range g.Tests {
			key, iv, aad := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.AAD)
			ct, tag := unhex(t, tc.CT), unhex(t, tc.Tag)
			switch {
			case g.Direction == "encrypt" || (tc.TestPassed != nil && *tc.TestPassed):
				katCipher(t, spec, key, iv, aad, unhex(t, tc.PT), ct, tag)
			default:
				if _, err := Decrypt(spec, key, iv, aad, ct, tag); !errors.Is(err, ErrAuthentication) {
					t.Fatalf("tc %d: Decrypt err = %v, want ErrAuthentication", tc.TcID, err)
				}
			}
			run++
		}
	}
	if run == 0 {
		t.Fatal("no vector ran")
	}
	t.Logf("%d vectors run, %d in refused parameter groups", run, refused)
}

// TestAESGCMSpecVectors runs the GCM specification test cases (including
// the 8- and 60-byte IVs) from BoringSSL's file.
func TestAESGCMSpecVectors(t *testing.T) {
	for _, r := range readRecords(t, "cavp/aes_128_gcm.txt") {
		key, iv, tag := r.bytes(t, "KEY"), r.bytes(t, "NONCE"), r.bytes(t, "TAG")
		spec := mustCipher(t, gcmParams(8*len(iv), 8*len(tag)), kmip.CryptographicAlgorithmAES, len(key))
		katCipher(t, spec, key, iv, r.bytes(t, "AD"), r.bytes(t, "IN"), r.bytes(t, "CT"), tag)
	}
}

// TestACVPBlockModes runs the NIST ACVP AES-ECB and AES-CBC sample sets.
func TestACVPBlockModes(t *testing.T) {
	for name, mode := range map[string]kmip.BlockCipherMode{"ACVP-AES-ECB": kmip.BlockCipherModeECB, "ACVP-AES-CBC": kmip.BlockCipherModeCBC} {
		f := loadACVP(t, name)
		n := 0
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				key := unhex(t, tc.Key)
				var iv []byte
				if mode == kmip.BlockCipherModeCBC {
					iv = unhex(t, tc.IV)
				}
				spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: mode}, kmip.CryptographicAlgorithmAES, len(key))
				katCipher(t, spec, key, iv, nil, unhex(t, tc.PT), unhex(t, tc.CT), nil)
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no vector", name)
		}
	}
}

func TestAESXTSWycheproof(t *testing.T) {
	f := loadWycheproof(t, "aes_xts_test")
	var run, refusedTweak, refusedLen int
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			key, msg, ct := unhex(t, tc.Key), unhex(t, tc.Msg), unhex(t, tc.CT)
			// The vector's IV is the start of the 128-bit tweak.
			tweak := make([]byte, 16)
			copy(tweak, unhex(t, tc.IV))
			spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeXTS}, kmip.CryptographicAlgorithmAES, len(key))
			_, _, _, err := Encrypt(spec, key, tweak, nil, msg)
			switch {
			case !bytes.Equal(tweak[8:], make([]byte, 8)):
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("tc %d: err = %v, want ErrUnsupported for a tweak beyond 64 bits", tc.TcID, err)
				}
				refusedTweak++
			case len(msg) < 16 || len(msg)%16 != 0:
				if !errors.Is(err, ErrInvalidData) {
					t.Fatalf("tc %d: err = %v, want ErrInvalidData for %d bytes", tc.TcID, err, len(msg))
				}
				refusedLen++
			case tc.valid():
				katCipher(t, spec, key, tweak, nil, msg, ct, nil)
				run++
			default:
				t.Fatalf("tc %d: unexpected invalid vector %s", tc.TcID, tc.Comment)
			}
		}
	}
	if run == 0 {
		t.Fatal("no vector ran")
	}
	t.Logf("%d run, %d refused (tweak), %d refused (length)", run, refusedTweak, refusedLen)
}

func TestKeyWrapWycheproof(t *testing.T) {
	for name, mode := range map[string]kmip.BlockCipherMode{"aes_wrap_test": kmip.BlockCipherModeNISTKeyWrap, "aes_kwp_test": kmip.BlockCipherModeAESKeyWrapPadding} {
		f := loadWycheproof(t, name)
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				key, msg, ct := unhex(t, tc.Key), unhex(t, tc.Msg), unhex(t, tc.CT)
				spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: mode}, kmip.CryptographicAlgorithmAES, len(key))
				if tc.valid() {
					katCipher(t, spec, key, nil, nil, msg, ct, nil)
					continue
				}
				if _, err := Decrypt(spec, key, nil, nil, ct, nil); !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrInvalidData) {
					t.Fatalf("%s tc %d (%s): Decrypt err = %v, want a refusal", name, tc.TcID, tc.Comment, err)
				}
			}
		}
	}
}

func TestChaCha20Poly1305Vectors(t *testing.T) {
	spec := mustCipher(t, nil, kmip.CryptographicAlgorithmChaCha20Poly1305, 32)
	for _, r := range readRecords(t, "rfc/chacha20_poly1305.txt") {
		katCipher(t, spec, r.bytes(t, "KEY"), r.bytes(t, "NONCE"), r.bytes(t, "AD"), r.bytes(t, "IN"), r.bytes(t, "CT"), r.bytes(t, "TAG"))
	}
	f := loadWycheproof(t, "chacha20_poly1305_test")
	var run, refused int
	for _, g := range f.TestGroups {
		if g.IVSize == 0 {
			spec, err := ResolveCipher(nil, kmip.CryptographicAlgorithmChaCha20Poly1305, g.KeySize/8)
			refused += refuseEmptyIV(t, spec, err, g.Tests)
			continue
		}
		if g.IVSize != 96 || g.KeySize != 256 || g.TagSize != 128 {
			if _, err := ResolveCipher(&kmip.CryptographicParameters{IVLength: int32(g.IVSize), TagLength: int32(g.TagSize / 8)},
				kmip.CryptographicAlgorithmChaCha20Poly1305, g.KeySize/8); err == nil {
				t.Fatalf("key %d iv %d tag %d accepted", g.KeySize, g.IVSize, g.TagSize)
			}
			refused += len(g.Tests)
			continue
		}
		for _, tc := range g.Tests {
			key, iv, aad := unhex(t, tc.Key), unhex(t, tc.IV), unhex(t, tc.AAD)
			ct, tag := unhex(t, tc.CT), unhex(t, tc.Tag)
			if tc.valid() {
				katCipher(t, spec, key, iv, aad, unhex(t, tc.Msg), ct, tag)
			} else if _, err := Decrypt(spec, key, iv, aad, ct, tag); !errors.Is(err, ErrAuthentication) {
				t.Fatalf("tc %d: err = %v, want ErrAuthentication", tc.TcID, err)
			}
			run++
		}
	}
	t.Logf("%d run, %d in refused groups", run, refused)
}

// refuseEmptyIV checks that vectors with an empty nonce are refused.
func refuseEmptyIV(t *testing.T, spec CipherSpec, resolveErr error, tests []wyTest) int {
	t.Helper()
	if resolveErr != nil {
		t.Fatalf("resolve with the default IV Length: %v", resolveErr)
	}
	for _, tc := range tests {
		key := unhex(t, tc.Key)
		if _, err := Decrypt(spec, key, []byte{}, unhex(t, tc.AAD), unhex(t, tc.CT), unhex(t, tc.Tag)); !errors.Is(err, ErrInvalidParameters) {
			t.Fatalf("tc %d: Decrypt with an empty IV: err = %v", tc.TcID, err)
		}
		if _, _, _, err := Encrypt(spec, key, []byte{}, unhex(t, tc.AAD), unhex(t, tc.Msg)); !errors.Is(err, ErrInvalidParameters) {
			t.Fatalf("tc %d: Encrypt with an empty IV: err = %v", tc.TcID, err)
		}
	}
	return len(tests)
}
