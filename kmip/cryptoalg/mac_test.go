package cryptoalg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

var wyHMAC = map[string]kmip.CryptographicAlgorithm{
	"sha1": kmip.CryptographicAlgorithmHMACSHA1, "sha224": kmip.CryptographicAlgorithmHMACSHA224,
	"sha256": kmip.CryptographicAlgorithmHMACSHA256, "sha384": kmip.CryptographicAlgorithmHMACSHA384,
	"sha512": kmip.CryptographicAlgorithmHMACSHA512, "sha3_224": kmip.CryptographicAlgorithmHMAC_SHA3_224,
	"sha3_256": kmip.CryptographicAlgorithmHMAC_SHA3_256, "sha3_384": kmip.CryptographicAlgorithmHMAC_SHA3_384,
	"sha3_512": kmip.CryptographicAlgorithmHMAC_SHA3_512,
}

// checkMAC runs one vector: mac may be truncated.
func checkMAC(t *testing.T, spec MACSpec, key, msg, mac []byte, valid bool) {
	t.Helper()
	if valid {
		got, err := ComputeMAC(spec, key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, mac) {
			t.Fatalf("MAC = %x, want prefix %x", got, mac)
		}
	}
	err := VerifyMAC(spec, key, msg, mac)
	switch {
	case len(mac) < MinMACLength:
		if !errors.Is(err, ErrInvalidData) {
			t.Fatalf("%d-byte MAC: err = %v, want ErrInvalidData", len(mac), err)
		}
	case valid && err != nil:
		t.Fatalf("Verify: %v", err)
	case !valid && !errors.Is(err, ErrAuthentication):
		t.Fatalf("Verify of an invalid MAC: err = %v", err)
	}
}

func TestHMACWycheproof(t *testing.T) {
	for name, alg := range wyHMAC {
		f := loadWycheproof(t, "hmac_"+name+"_test")
		n := 0
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				key := unhex(t, tc.Key)
				spec, err := ResolveMAC(nil, alg, len(key))
				if len(key) == 0 {
					if !errors.Is(err, ErrInvalidKey) {
						t.Fatalf("%s empty key: err = %v", name, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				checkMAC(t, spec, key, unhex(t, tc.Msg), unhex(t, tc.Tag), tc.valid())
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no vector ran", name)
		}
	}
}

// TestHMACRFCVectors runs RFC 2202/4231-style vectors from BoringSSL's file.
func TestHMACRFCVectors(t *testing.T) {
	algs := map[string]kmip.CryptographicAlgorithm{"SHA1": kmip.CryptographicAlgorithmHMACSHA1,
		"SHA224": kmip.CryptographicAlgorithmHMACSHA224, "SHA256": kmip.CryptographicAlgorithmHMACSHA256,
		"SHA384": kmip.CryptographicAlgorithmHMACSHA384, "SHA512": kmip.CryptographicAlgorithmHMACSHA512}
	for _, r := range readRecords(t, "rfc/hmac.txt") {
		alg, ok := algs[r.fields["HMAC"]]
		if !ok {
			t.Fatalf("line %d: hash %s", r.line, r.fields["HMAC"])
		}
		key := r.bytes(t, "Key")
		if len(key) == 0 {
			continue // an empty key is refused, tested above
		}
		spec, err := ResolveMAC(nil, alg, len(key))
		if err != nil {
			t.Fatal(err)
		}
		checkMAC(t, spec, key, r.bytes(t, "Input"), r.bytes(t, "Output"), true)
	}
}

func cmacSpec(t *testing.T, keyLen int) MACSpec {
	t.Helper()
	s, err := ResolveMAC(&kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCMAC}, kmip.CryptographicAlgorithmAES, keyLen)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCMACVectors(t *testing.T) {
	for _, r := range readRecords(t, "rfc/cmac_rfc4493.txt") {
		key := r.bytes(t, "KEY")
		checkMAC(t, cmacSpec(t, len(key)), key, r.bytes(t, "MESSAGE"), r.bytes(t, "OUTPUT"), true)
	}
	// CAVP CMACVer: Result P or F; Msg holds Mlen bytes (a single 00 when
	// Mlen is 0), Mac is truncated to Tlen bytes.
	recs := readRecords(t, "cavp/aes_cmac.txt")
	for _, r := range recs {
		key := r.bytes(t, "Key")
		mlen, err := strconv.Atoi(r.fields["Mlen"])
		if err != nil {
			t.Fatal(err)
		}
		msg := r.bytes(t, "Msg")[:mlen]
		checkMAC(t, cmacSpec(t, len(key)), key, msg, r.bytes(t, "Mac"), strings.HasPrefix(r.fields["Result"], "P"))
	}
	f := loadWycheproof(t, "aes_cmac_test")
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			key := unhex(t, tc.Key)
			spec, err := ResolveMAC(&kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCMAC}, kmip.CryptographicAlgorithmAES, len(key))
			if len(key) != 16 && len(key) != 24 && len(key) != 32 {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("tc %d: %d-byte key: err = %v", tc.TcID, len(key), err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			checkMAC(t, spec, key, unhex(t, tc.Msg), unhex(t, tc.Tag), tc.valid())
		}
	}
}

func TestMACStreamingEqualsOneShot(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specs := []MACSpec{cmacSpec(t, 16), cmacSpec(t, 32)}
	for _, alg := range wyHMAC {
		s, err := ResolveMAC(nil, alg, 20)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	for _, spec := range specs {
		for range 30 {
			key := seq(spec.KeyLength)
			data := make([]byte, r.IntN(100))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			want, err := ComputeMAC(spec, key, data)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := NewMAC(spec, key)
			parts := chunks(r, data)
			for _, p := range parts[:len(parts)-1] {
				if err := m.Update(p); err != nil {
					t.Fatal(err)
				}
			}
			got, err := m.Final(parts[len(parts)-1])
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s %d bytes: streamed MAC differs (%v)", enumName(spec.Algorithm), len(data), err)
			}
			if err := m.Update(nil); !errors.Is(err, ErrFinished) {
				t.Fatalf("Update after Final: %v", err)
			}
		}
	}
}

func TestResolveMACRefusals(t *testing.T) {
	cases := []struct {
		name string
		p    *kmip.CryptographicParameters
		alg  kmip.CryptographicAlgorithm
		n    int
		kind error
	}{
		{"AES without CMAC", nil, kmip.CryptographicAlgorithmAES, 16, ErrInvalidParameters},
		{"CMAC AES 20 bytes", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCMAC}, kmip.CryptographicAlgorithmAES, 20, ErrInvalidKey},
		{"HMAC hash mismatch", &kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_1}, kmip.CryptographicAlgorithmHMACSHA256, 32, ErrInvalidParameters},
		{"algorithm mismatch", &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmHMACSHA1}, kmip.CryptographicAlgorithmHMACSHA256, 32, ErrInvalidParameters},
		{"HMAC-MD5", nil, kmip.CryptographicAlgorithmHMACMD5, 16, ErrUnsupported},
		{"3DES CMAC", &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCMAC}, kmip.CryptographicAlgorithm3DES, 24, ErrUnsupported},
		{"no algorithm", nil, 0, 16, ErrInvalidParameters},
		{"padding", &kmip.CryptographicParameters{PaddingMethod: kmip.PaddingMethodPKCS5}, kmip.CryptographicAlgorithmHMACSHA256, 32, ErrInvalidParameters},
	}
	for _, c := range cases {
		if _, err := ResolveMAC(c.p, c.alg, c.n); !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.kind)
		}
	}
	// A secret without an algorithm takes it from the parameters.
	s, err := ResolveMAC(&kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmHMACSHA384}, 0, 48)
	if err != nil || s.Algorithm != kmip.CryptographicAlgorithmHMACSHA384 {
		t.Errorf("algorithm from parameters: %+v %v", s, err)
	}
}

func TestCMACWipe(t *testing.T) {
	m, err := NewMAC(cmacSpec(t, 16), seq(16))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Update(seq(20)); err != nil {
		t.Fatal(err)
	}
	c := m.c
	if c.k1 == [16]byte{} || c.n == 0 {
		t.Fatal("nothing held before Wipe")
	}
	m.Wipe()
	if c.k1 != [16]byte{} || c.k2 != [16]byte{} || c.x != [16]byte{} || c.buf != [16]byte{} || c.n != 0 {
		t.Fatal("Wipe left CMAC state")
	}
}

// TestHMACWithAnAESKey: parameters that name HMAC-SHA256 use a key created
// as AES as the HMAC key (OASIS CS-AC-M-4-14 records it; RFC 4231 test
// case 1 gives the answer).
func TestHMACWithAnAESKey(t *testing.T) {
	p := &kmip.CryptographicParameters{CryptographicAlgorithm: kmip.CryptographicAlgorithmHMACSHA256}
	key := bytes.Repeat([]byte{0x0b}, 32)
	spec, err := ResolveMAC(p, kmip.CryptographicAlgorithmAES, len(key))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ComputeMAC(spec, key[:20], []byte("Hi There"))
	if err == nil {
		t.Fatalf("a key of another length than resolved was used: %x", got)
	}
	spec, err = ResolveMAC(p, kmip.CryptographicAlgorithmAES, 20)
	if err != nil {
		t.Fatal(err)
	}
	got, err = ComputeMAC(spec, key[:20], []byte("Hi There"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := hex.DecodeString("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"); !bytes.Equal(got, want) {
		t.Fatalf("HMAC = %x", got)
	}
}
