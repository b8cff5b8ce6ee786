package cryptoalg

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

func bptr(b bool) *bool   { return &b }
func i32p(v int32) *int32 { return &v }
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func TestResolveCipherRefusals(t *testing.T) {
	aes := kmip.CryptographicAlgorithmAES
	cases := []struct {
		name   string
		p      *kmip.CryptographicParameters
		alg    kmip.CryptographicAlgorithm
		keyLen int
		kind   error
		reason string
	}{
		{"no mode", nil, aes, 16, ErrInvalidParameters, "Block Cipher Mode is required for AES"},
		{"XTS short key", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeXTS}, aes, 16, ErrInvalidKey, "Block Cipher Mode XTS needs a key of 256 or 512 bits"},
		{"AES 20-byte key", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, aes, 20, ErrInvalidKey, "128, 192 or 256 bits"},
		{"CCM", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCCM}, aes, 16, ErrUnsupported, "Block Cipher Mode CCM is not supported"},
		{"PKCS5 with CTR", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCTR, PaddingMethod: kmip.PaddingMethodPKCS5}, aes, 16, ErrInvalidParameters, "Padding Method PKCS5 applies only"},
		{"OAEP with AES", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, PaddingMethod: kmip.PaddingMethodOAEP}, aes, 16, ErrInvalidParameters, "applies to RSA"},
		{"ISO10126", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, PaddingMethod: kmip.PaddingMethodISO10126}, aes, 16, ErrUnsupported, "Padding Method"},
		{"GCM tag 8", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, TagLength: 8}, aes, 16, ErrInvalidParameters, "Tag Length for GCM"},
		{"GCM tag 17", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, TagLength: 17}, aes, 16, ErrInvalidParameters, "Tag Length for GCM"},
		{"GCM odd IV bits", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, IVLength: 95}, aes, 16, ErrInvalidParameters, "IV Length for GCM"},
		{"GCM 64-bit IV short tag", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, IVLength: 64, TagLength: 12}, aes, 16, ErrUnsupported, "IV Length other than 96 bits"},
		{"CBC IV 64 bits", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, IVLength: 64}, aes, 16, ErrInvalidParameters, "IV Length must be 128 bits"},
		{"tag with CBC", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, TagLength: 16}, aes, 16, ErrInvalidParameters, "Tag Length applies only"},
		{"ECB random IV", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB, RandomIV: bptr(true)}, aes, 16, ErrInvalidParameters, "takes no IV"},
		{"counter length with CBC", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, CounterLength: 32}, aes, 16, ErrInvalidParameters, "Counter Length applies only"},
		{"initial counter", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCTR, InitialCounterValue: i32p(1)}, aes, 16, ErrUnsupported, "Initial Counter Value"},
		{"algorithm mismatch", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, CryptographicAlgorithm: kmip.CryptographicAlgorithm3DES}, aes, 16, ErrInvalidParameters, "does not match the key's algorithm"},
		{"salt length", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, SaltLength: i32p(20)}, aes, 16, ErrInvalidParameters, "Salt Length"},
		{"3DES GCM", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM}, kmip.CryptographicAlgorithm3DES, 24, ErrUnsupported, "not supported with DES3"},
		{"3DES 8-byte key", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, kmip.CryptographicAlgorithm3DES, 8, ErrInvalidKey, "3DES key"},
		{"RC4", nil, kmip.CryptographicAlgorithmRC4, 16, ErrUnsupported, "RC4"},
		{"ChaCha with CBC", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, kmip.CryptographicAlgorithmChaCha20Poly1305, 32, ErrInvalidParameters, "does not apply to ChaCha20Poly1305"},
		{"ChaCha short key", nil, kmip.CryptographicAlgorithmChaCha20Poly1305, 16, ErrInvalidKey, "256 bits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ResolveCipher(c.p, c.alg, c.keyLen)
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if !strings.Contains(Reason(err), c.reason) {
				t.Fatalf("reason %q does not say %q", Reason(err), c.reason)
			}
		})
	}
}

// streamSpecs covers every mode with a key to stream with.
func streamSpecs(t *testing.T) []struct {
	name    string
	spec    CipherSpec
	key     []byte
	aligned int // data must be a multiple of this
	minLen  int
} {
	mk := func(p *kmip.CryptographicParameters, alg kmip.CryptographicAlgorithm, n int) CipherSpec {
		return mustCipher(t, p, alg, n)
	}
	aes, tdes := kmip.CryptographicAlgorithmAES, kmip.CryptographicAlgorithm3DES
	bm := func(m kmip.BlockCipherMode, pad kmip.PaddingMethod) *kmip.CryptographicParameters {
		return &kmip.CryptographicParameters{BlockCipherMode: m, PaddingMethod: pad}
	}
	type row = struct {
		name    string
		spec    CipherSpec
		key     []byte
		aligned int
		minLen  int
	}
	return []row{
		{"AES-ECB-PKCS5", mk(bm(kmip.BlockCipherModeECB, kmip.PaddingMethodPKCS5), aes, 16), seq(16), 1, 0},
		{"AES-ECB", mk(bm(kmip.BlockCipherModeECB, 0), aes, 24), seq(24), 16, 0},
		{"AES-CBC-PKCS5", mk(bm(kmip.BlockCipherModeCBC, kmip.PaddingMethodPKCS5), aes, 32), seq(32), 1, 0},
		{"AES-CBC", mk(bm(kmip.BlockCipherModeCBC, kmip.PaddingMethodNone), aes, 16), seq(16), 16, 0},
		{"AES-CFB", mk(bm(kmip.BlockCipherModeCFB, 0), aes, 16), seq(16), 1, 0},
		{"AES-OFB", mk(bm(kmip.BlockCipherModeOFB, 0), aes, 16), seq(16), 1, 0},
		{"AES-CTR", mk(bm(kmip.BlockCipherModeCTR, 0), aes, 16), seq(16), 1, 0},
		{"AES-GCM", mk(bm(kmip.BlockCipherModeGCM, 0), aes, 32), seq(32), 1, 0},
		{"AES-XTS", mk(bm(kmip.BlockCipherModeXTS, 0), aes, 64), seq(64), 16, 16},
		{"AES-KW", mk(bm(kmip.BlockCipherModeNISTKeyWrap, 0), aes, 16), seq(16), 8, 16},
		{"AES-KWP", mk(bm(kmip.BlockCipherModeAESKeyWrapPadding, 0), aes, 16), seq(16), 1, 1},
		{"3DES-CBC-PKCS5", mk(bm(kmip.BlockCipherModeCBC, kmip.PaddingMethodPKCS5), tdes, 24), seq(24), 1, 0},
		{"3DES-ECB-2key", mk(bm(kmip.BlockCipherModeECB, 0), tdes, 16), seq(16), 8, 0},
		{"3DES-OFB", mk(bm(kmip.BlockCipherModeOFB, 0), tdes, 24), seq(24), 1, 0},
		{"ChaCha20Poly1305", mk(nil, kmip.CryptographicAlgorithmChaCha20Poly1305, 32), seq(32), 1, 0},
	}
}

// chunks splits b at random points.
func chunks(r *rand.Rand, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := r.IntN(len(b) + 1)
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, nil)
}

// TestStreamingEqualsOneShot: for random data and random chunkings (fixed
// seed), streamed encryption equals one-shot encryption and streamed
// decryption returns the plaintext.
func TestStreamingEqualsOneShot(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range streamSpecs(t) {
		t.Run(c.name, func(t *testing.T) {
			for range 40 {
				n := c.minLen + r.IntN(200)
				n -= n % c.aligned
				if n < c.minLen {
					n += c.aligned
				}
				pt := make([]byte, n)
				for i := range pt {
					pt[i] = byte(r.Uint32())
				}
				var aad []byte
				if c.spec.AEAD() {
					aad = pt[:n/3]
				}
				ct, iv, tag, err := Encrypt(c.spec, c.key, nil, aad, pt)
				if err != nil {
					t.Fatalf("Encrypt %d bytes: %v", n, err)
				}
				if c.spec.IVLength > 0 && len(iv) != c.spec.IVLength {
					t.Fatalf("generated IV of %d bytes", len(iv))
				}
				enc, err := NewEncrypter(c.spec, c.key, iv, aad, n)
				if err != nil {
					t.Fatal(err)
				}
				var streamed []byte
				parts := chunks(r, pt)
				for _, p := range parts[:len(parts)-1] {
					out, err := enc.Update(p)
					if err != nil {
						t.Fatal(err)
					}
					streamed = append(streamed, out...)
				}
				out, stag, err := enc.Final(parts[len(parts)-1])
				if err != nil {
					t.Fatal(err)
				}
				streamed = append(streamed, out...)
				if !bytes.Equal(streamed, ct) || !bytes.Equal(stag, tag) {
					t.Fatalf("%d bytes in %d chunks: streamed ciphertext differs", n, len(parts))
				}
				dec, err := NewDecrypter(c.spec, c.key, iv, aad, len(ct))
				if err != nil {
					t.Fatal(err)
				}
				var back []byte
				parts = chunks(r, ct)
				for _, p := range parts[:len(parts)-1] {
					o, err := dec.Update(p)
					if err != nil {
						t.Fatal(err)
					}
					back = append(back, o...)
				}
				o, err := dec.Final(parts[len(parts)-1], tag)
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if back = append(back, o...); !bytes.Equal(back, pt) {
					t.Fatalf("%d bytes: streamed decryption differs", n)
				}
			}
		})
	}
}

func TestAEADRefusesTampering(t *testing.T) {
	for _, c := range streamSpecs(t) {
		if !c.spec.AEAD() {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			pt, aad := seq(40), []byte("header")
			ct, iv, tag, err := Encrypt(c.spec, c.key, nil, aad, pt)
			if err != nil {
				t.Fatal(err)
			}
			flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
			for name, try := range map[string]func() ([]byte, error){
				"tag":        func() ([]byte, error) { return Decrypt(c.spec, c.key, iv, aad, ct, flip(tag, 0)) },
				"aad":        func() ([]byte, error) { return Decrypt(c.spec, c.key, iv, []byte("headex"), ct, tag) },
				"no aad":     func() ([]byte, error) { return Decrypt(c.spec, c.key, iv, nil, ct, tag) },
				"ciphertext": func() ([]byte, error) { return Decrypt(c.spec, c.key, iv, aad, flip(ct, 5), tag) },
				"iv":         func() ([]byte, error) { return Decrypt(c.spec, c.key, flip(iv, 0), aad, ct, tag) },
			} {
				if out, err := try(); !errors.Is(err, ErrAuthentication) || out != nil {
					t.Errorf("%s: err = %v, out = %x; want ErrAuthentication and no output", name, err, out)
				}
			}
			if _, err := Decrypt(c.spec, c.key, iv, aad, ct, tag[:len(tag)-1]); !errors.Is(err, ErrInvalidData) {
				t.Errorf("short tag: err = %v", err)
			}
			if _, err := Decrypt(c.spec, c.key, iv[:len(iv)-1], aad, ct, tag); !errors.Is(err, ErrInvalidParameters) {
				t.Errorf("short IV: err = %v", err)
			}
		})
	}
}

func TestCipherInputRefusals(t *testing.T) {
	aes := kmip.CryptographicAlgorithmAES
	cbc := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, aes, 16)
	cbcPad := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, PaddingMethod: kmip.PaddingMethodPKCS5}, aes, 16)
	ecb := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}, aes, 16)
	gcm := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM}, aes, 16)
	random := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, RandomIV: bptr(true)}, aes, 16)
	key, iv := seq(16), seq(16)

	check := func(name string, err, kind error) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Errorf("%s: err = %v, want %v", name, err, kind)
		}
	}
	_, _, _, err := Encrypt(cbc, key, iv, nil, seq(17))
	check("padding None, 17 bytes", err, ErrInvalidData)
	if !strings.Contains(Reason(err), "whole 16-byte blocks") {
		t.Errorf("reason %q", Reason(err))
	}
	_, err = Decrypt(cbc, key, iv, nil, seq(31), nil)
	check("decrypt 31 bytes", err, ErrInvalidData)
	_, err = Decrypt(cbcPad, key, iv, nil, seq(16), nil)
	check("bad padding", err, ErrAuthentication)
	_, err = Decrypt(cbcPad, key, iv, nil, nil, nil)
	check("padding, empty ciphertext", err, ErrInvalidData)
	_, _, _, err = Encrypt(ecb, key, iv, nil, seq(16))
	check("ECB with IV", err, ErrInvalidParameters)
	_, _, _, err = Encrypt(cbc, key, seq(8), nil, seq(16))
	check("CBC 8-byte IV", err, ErrInvalidParameters)
	_, err = Decrypt(cbc, key, nil, nil, seq(16), nil)
	check("decrypt without IV", err, ErrInvalidParameters)
	_, _, _, err = Encrypt(cbc, seq(24), iv, nil, seq(16))
	check("key length differs from spec", err, ErrInvalidKey)
	_, _, _, err = Encrypt(cbc, key, iv, []byte("aad"), seq(16))
	check("AAD with CBC", err, ErrInvalidParameters)
	_, err = Decrypt(cbc, key, iv, nil, seq(16), seq(16))
	check("tag with CBC", err, ErrInvalidParameters)
	_, _, _, err = Encrypt(random, key, iv, nil, seq(16))
	check("Random IV and an IV", err, ErrInvalidParameters)

	// PKCS5 padding of whole blocks adds a block.
	out, _, _, err := Encrypt(cbcPad, key, iv, nil, seq(32))
	if err != nil || len(out) != 48 {
		t.Errorf("PKCS5 of 32 bytes: %d bytes, %v", len(out), err)
	}

	// Buffering modes refuse more than the caller's bound.
	e, err := NewEncrypter(gcm, key, nil, nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Update(seq(20)); err != nil {
		t.Fatal(err)
	}
	_, err = e.Update(seq(13))
	check("GCM buffer bound", err, ErrLimit)
	_, err = e.Update(seq(1))
	check("update after a failure", err, ErrFinished)

	e, _ = NewEncrypter(cbc, key, iv, nil, 0)
	if _, _, err := e.Final(seq(16)); err != nil {
		t.Fatal(err)
	}
	_, err = e.Update(seq(16))
	check("update after Final", err, ErrFinished)
	_, _, err = e.Final(nil)
	check("Final after Final", err, ErrFinished)
}

// TestCTRCounterLength: a Counter Length of 8 bits leaves the blocks up to
// the wrap of the low byte of the counter block.
func TestCTRCounterLength(t *testing.T) {
	spec := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCTR, CounterLength: 8}, kmip.CryptographicAlgorithmAES, 16)
	iv := make([]byte, 16)
	iv[15] = 0xFE // two counter values left: 0xFE and 0xFF
	if _, _, _, err := Encrypt(spec, seq(16), iv, nil, seq(32)); err != nil {
		t.Fatalf("32 bytes: %v", err)
	}
	if _, _, _, err := Encrypt(spec, seq(16), iv, nil, seq(33)); !errors.Is(err, ErrLimit) {
		t.Fatalf("33 bytes: err = %v, want ErrLimit", err)
	}
	if _, err := ResolveCipher(&kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCTR, CounterLength: 129}, kmip.CryptographicAlgorithmAES, 16); !errors.Is(err, ErrInvalidParameters) {
		t.Fatalf("Counter Length 129: err = %v", err)
	}
}

// TestCipherWipe: Wipe zeroes what a stream buffered.
func TestCipherWipe(t *testing.T) {
	for _, c := range streamSpecs(t) {
		e, err := NewEncrypter(c.spec, c.key, nil, nil, 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Update(seq(15)); err != nil {
			t.Fatal(err)
		}
		var held []byte
		switch eng := e.eng.(type) {
		case *blockEngine:
			held = eng.pending[:cap(eng.pending)]
		case *aeadEngine:
			held = eng.data[:cap(eng.data)]
		case *xtsEngine:
			held = eng.data[:cap(eng.data)]
		case *keyWrapEngine:
			held = eng.data[:cap(eng.data)]
		case *streamEngine:
			continue // nothing is held
		default:
			t.Fatalf("%s: unexpected engine %T", c.name, eng)
		}
		if bytes.Equal(held, make([]byte, len(held))) {
			t.Fatalf("%s: nothing held before Wipe", c.name)
		}
		e.Wipe()
		if !bytes.Equal(held, make([]byte, len(held))) {
			t.Fatalf("%s: Wipe left data", c.name)
		}
		if _, err := e.Update(nil); !errors.Is(err, ErrFinished) {
			t.Fatalf("%s: Update after Wipe: %v", c.name, err)
		}
	}
}

// TestOASISGCMVector replays the KMIP 1.4 test case CS-BC-M-GCM-1-14 with
// the parameters it sends (only Block Cipher Mode and Tag Length), so the
// defaults are the ones the test case expects.
func TestOASISGCMVector(t *testing.T) {
	ecb := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}, kmip.CryptographicAlgorithmAES, 16)
	gcm := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM, TagLength: 16}, kmip.CryptographicAlgorithmAES, 16)
	if ecb.Padding != kmip.PaddingMethodNone || gcm.IVLength != 12 || gcm.TagLength != 16 {
		t.Fatalf("defaults: %+v %+v", ecb, gcm)
	}
	// CS-BC-M-GCM-1-14: zero key, zero IV, zero block.
	zero := make([]byte, 16)
	katCipher(t, gcm, zero, zero[:12], nil, zero, unhex(t, "0388dace60b6a392f328c2b971b2fe78"), unhex(t, "ab6e47d42cec13bdf53a67b21257bddf"))
	if _, err := Decrypt(gcm, zero, zero[:12], nil, unhex(t, "0388dace60b6a392f328c2b971b2fe78"), unhex(t, "006e47d42cec13bdf53a67b21257bddf")); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("CS-BC-M-GCM-1-14 bad tag: %v", err)
	}
}

func BenchmarkEncryptAES256GCM1KiB(b *testing.B) {
	spec, err := ResolveCipher(&kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM}, kmip.CryptographicAlgorithmAES, 32)
	if err != nil {
		b.Fatal(err)
	}
	key, iv, data := seq(32), seq(12), seq(1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, _, err := Encrypt(spec, key, iv, nil, data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReasonsLeakNothing: refusals carry a KMIP-worded reason, never key
// bytes or a library's error text.
func TestReasonsLeakNothing(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, 32)
	gcm := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeGCM}, kmip.CryptographicAlgorithmAES, 32)
	cbc := mustCipher(t, &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC, PaddingMethod: kmip.PaddingMethodPKCS5}, kmip.CryptographicAlgorithmAES, 32)
	_, e1 := Decrypt(gcm, key, seq(12), nil, seq(16), seq(16))
	_, e2 := Decrypt(cbc, key, seq(16), nil, seq(32), nil)
	_, e3 := ResolveCipher(&kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeXTS}, kmip.CryptographicAlgorithmAES, 16)
	m, _ := ResolveMAC(nil, kmip.CryptographicAlgorithmHMACSHA256, 32)
	e4 := VerifyMAC(m, key, []byte("data"), seq(32))
	for i, err := range []error{e1, e2, e3, e4} {
		var e *Error
		if !errors.As(err, &e) || e.Reason == "" {
			t.Fatalf("error %d is not an *Error with a reason: %v", i, err)
		}
		low := strings.ToLower(err.Error())
		for _, bad := range []string{"abab", "crypto/", "cipher:", "message authentication failed"} {
			if strings.Contains(low, bad) {
				t.Fatalf("error %d %q contains %q", i, err, bad)
			}
		}
	}
}
