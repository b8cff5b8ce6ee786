package cryptoalg

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
)

func hashParams(h kmip.HashingAlgorithm) *kmip.CryptographicParameters {
	return &kmip.CryptographicParameters{HashingAlgorithm: h}
}

func TestPBKDF2Vectors(t *testing.T) {
	for _, r := range readRecords(t, "rfc/pbkdf2_rfc6070.txt") {
		iter, _ := strconv.Atoi(r.fields["ITERATIONS"])
		n, _ := strconv.Atoi(r.fields["LENGTH"])
		pw := strings.ReplaceAll(r.fields["PASSWORD"], `\0`, "\x00")
		salt := strings.ReplaceAll(r.fields["SALT"], `\0`, "\x00")
		got, err := DeriveKey(Derivation{Method: DerivationPBKDF2, Parameters: hashParams(kmip.HashingAlgorithmSHA_1),
			Salt: []byte(salt), IterationCount: iter, LengthBits: 8 * n}, 0, []byte(pw))
		if err != nil || !bytes.Equal(got, r.bytes(t, "DERIVED_KEY")) {
			t.Fatalf("COUNT %s: %x, %v", r.fields["COUNT"], got, err)
		}
	}
	for name, h := range map[string]kmip.HashingAlgorithm{"sha1": kmip.HashingAlgorithmSHA_1, "sha224": kmip.HashingAlgorithmSHA_224,
		"sha256": kmip.HashingAlgorithmSHA_256, "sha384": kmip.HashingAlgorithmSHA_384, "sha512": kmip.HashingAlgorithmSHA_512} {
		f := loadWycheproof(t, "pbkdf2_hmac"+name+"_test")
		n := 0
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				pw, salt := unhex(t, tc.Password), unhex(t, tc.Salt)
				got, err := DeriveKey(Derivation{Method: DerivationPBKDF2, Parameters: hashParams(h), Salt: salt,
					IterationCount: tc.IterationCount, LengthBits: 8 * tc.DKLen}, 0, pw)
				switch {
				case len(pw) == 0:
					if !errors.Is(err, ErrInvalidKey) {
						t.Fatalf("%s tc %d: empty password: %v", name, tc.TcID, err)
					}
				case len(salt) == 0 || tc.DKLen == 0 || tc.DKLen > MaxDerivedBytes:
					if err == nil {
						t.Fatalf("%s tc %d: accepted", name, tc.TcID)
					}
				case tc.valid():
					if err != nil || !bytes.Equal(got, unhex(t, tc.DK)) {
						t.Fatalf("%s tc %d: %x, %v", name, tc.TcID, got, err)
					}
					n++
				default:
					t.Fatalf("%s tc %d: unexpected invalid vector %s", name, tc.TcID, tc.Comment)
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no vector ran", name)
		}
	}
}

func TestHKDFVectors(t *testing.T) {
	for _, r := range readRecords(t, "rfc/hkdf_rfc5869.txt") {
		n, _ := strconv.Atoi(r.fields["L"])
		got, err := HKDF(kmip.HashingAlgorithmSHA_256, r.bytes(t, "IKM"), r.bytes(t, "salt"), r.bytes(t, "info"), n)
		if err != nil || !bytes.Equal(got, r.bytes(t, "OKM")) {
			t.Fatalf("COUNT %s: %x, %v", r.fields["COUNT"], got, err)
		}
	}
	for name, h := range map[string]kmip.HashingAlgorithm{"sha1": kmip.HashingAlgorithmSHA_1, "sha256": kmip.HashingAlgorithmSHA_256,
		"sha384": kmip.HashingAlgorithmSHA_384, "sha512": kmip.HashingAlgorithmSHA_512} {
		f := loadWycheproof(t, "hkdf_"+name+"_test")
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				got, err := HKDF(h, unhex(t, tc.IKM), unhex(t, tc.Salt), unhex(t, tc.Info), tc.Size)
				if tc.valid() && tc.Size <= MaxDerivedBytes {
					if err != nil || !bytes.Equal(got, unhex(t, tc.OKM)) {
						t.Fatalf("%s tc %d: %v", name, tc.TcID, err)
					}
				} else if err == nil {
					t.Fatalf("%s tc %d (%s): accepted size %d", name, tc.TcID, tc.Comment, tc.Size)
				}
			}
		}
	}
}

// TestDeriveHashOASIS is the KMIP test case TC-DERIVEKEY-1-10: HASH with
// SHA-256 over a registered AES-128 key, 128 bits out.
func TestDeriveHashOASIS(t *testing.T) {
	got, err := DeriveKey(Derivation{Method: DerivationHash, Parameters: hashParams(kmip.HashingAlgorithmSHA_256), LengthBits: 128},
		kmip.CryptographicAlgorithmAES, unhex(t, "00112233445566778899aabbccddeeff"))
	if err != nil || !bytes.Equal(got, unhex(t, "a8faed6abbf35c12a4b26e40f6feb19d")) {
		t.Fatalf("%x, %v", got, err)
	}
	// With Derivation Data the hash covers the key, then the data: check
	// it against the SHA3-256 CAVP vector for the concatenation.
	got, err = DeriveKey(Derivation{Method: DerivationHash, Parameters: hashParams(kmip.HashingAlgorithmSHA_3_256),
		DerivationData: unhex(t, "4e0cc4f5"), LengthBits: 256}, 0, unhex(t, "8bca931c8a132d2f"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Hash(hashSpec(t, kmip.HashingAlgorithmSHA_3_256), unhex(t, "8bca931c8a132d2f4e0cc4f5"))
	if !bytes.Equal(got, want) {
		t.Fatal("HASH with data is not H(key || data)")
	}
}

// TestDeriveHMACAndEncryptKAT: HMAC derivation reproduces RFC 4231-style
// HMAC outputs (truncated), ENCRYPT reproduces SP 800-38A ECB and CBC.
func TestDeriveHMACAndEncryptKAT(t *testing.T) {
	for _, r := range readRecords(t, "rfc/hmac.txt") {
		if r.fields["HMAC"] != "SHA256" || len(r.bytes(t, "Key")) == 0 || len(r.bytes(t, "Input")) == 0 {
			continue
		}
		out := r.bytes(t, "Output")
		got, err := DeriveKey(Derivation{Method: DerivationHMAC, Parameters: hashParams(kmip.HashingAlgorithmSHA_256),
			DerivationData: r.bytes(t, "Input"), LengthBits: 128}, 0, r.bytes(t, "Key"))
		if err != nil || !bytes.Equal(got, out[:16]) {
			t.Fatalf("line %d: %x, %v", r.line, got, err)
		}
	}
	n := 0
	for _, r := range readRecords(t, "cavp/sp800_38a.txt") {
		alg, mode := cipherName(t, r.fields["Cipher"])
		if alg != kmip.CryptographicAlgorithmAES || (mode != kmip.BlockCipherModeECB && mode != kmip.BlockCipherModeCBC) {
			continue
		}
		var iv []byte
		if r.has("IV") {
			iv = r.bytes(t, "IV")
		}
		ct := r.bytes(t, "Ciphertext")
		if len(ct) == 0 {
			continue // empty-message records: ENCRYPT needs Derivation Data
		}
		got, err := DeriveKey(Derivation{Method: DerivationEncrypt, Parameters: &kmip.CryptographicParameters{BlockCipherMode: mode},
			InitializationVector: iv, DerivationData: r.bytes(t, "Plaintext"), LengthBits: 8 * len(ct)}, alg, r.bytes(t, "Key"))
		if err != nil || !bytes.Equal(got, ct) {
			t.Fatalf("line %d: %x, %v", r.line, got, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no ENCRYPT vector")
	}
}

func TestDeriveNIST800108Counter(t *testing.T) {
	for _, r := range readRecords(t, "cavp/KDFCTR_gen_subset.rsp") {
		l, _ := strconv.Atoi(r.fields["L"])
		got, err := DeriveKey(Derivation{Method: DerivationNIST800108C, Parameters: hashParams(kmip.HashingAlgorithmSHA_256),
			DerivationData: r.bytes(t, "FixedInputData"), LengthBits: l}, 0, r.bytes(t, "KI"))
		if err != nil || !bytes.Equal(got, r.bytes(t, "KO")) {
			t.Fatalf("COUNT %s: %x, %v", r.fields["COUNT"], got, err)
		}
	}
	// Longer outputs are the concatenation of the counter blocks.
	key, data := seq(32), seq(20)
	long, err := DeriveKey(Derivation{Method: DerivationNIST800108C, Parameters: hashParams(kmip.HashingAlgorithmSHA_256), DerivationData: data, LengthBits: 8 * 80}, 0, key)
	if err != nil {
		t.Fatal(err)
	}
	for i, blk := range [][]byte{long[:32], long[32:64], long[64:]} {
		m, _ := ResolveMAC(nil, kmip.CryptographicAlgorithmHMACSHA256, 32)
		want, _ := ComputeMAC(m, key, append([]byte{0, 0, 0, byte(i + 1)}, data...))
		if !bytes.Equal(blk, want[:len(blk)]) {
			t.Fatalf("block %d differs", i+1)
		}
	}
}

func TestDeriveRefusals(t *testing.T) {
	sha := hashParams(kmip.HashingAlgorithmSHA_256)
	key := seq(16)
	cases := []struct {
		name string
		d    Derivation
		kind error
	}{
		{"no length", Derivation{Method: DerivationHash, Parameters: sha}, ErrInvalidParameters},
		{"odd bits", Derivation{Method: DerivationHash, Parameters: sha, LengthBits: 12}, ErrInvalidParameters},
		{"too long", Derivation{Method: DerivationHash, Parameters: sha, LengthBits: 8 * (MaxDerivedBytes + 1)}, ErrLimit},
		{"HASH longer than digest", Derivation{Method: DerivationHash, Parameters: sha, LengthBits: 264}, ErrInvalidParameters},
		{"no hash", Derivation{Method: DerivationHash, LengthBits: 128}, ErrInvalidParameters},
		{"unknown hash", Derivation{Method: DerivationHash, Parameters: hashParams(kmip.HashingAlgorithmTiger), LengthBits: 128}, ErrUnsupported},
		{"PBKDF2 no salt", Derivation{Method: DerivationPBKDF2, Parameters: sha, IterationCount: 10, LengthBits: 128}, ErrInvalidParameters},
		{"PBKDF2 no iterations", Derivation{Method: DerivationPBKDF2, Parameters: sha, Salt: []byte("s"), LengthBits: 128}, ErrInvalidParameters},
		{"PBKDF2 too many iterations", Derivation{Method: DerivationPBKDF2, Parameters: sha, Salt: []byte("s"), IterationCount: MaxIterations + 1, LengthBits: 128}, ErrInvalidParameters},
		{"PBKDF2 MD5", Derivation{Method: DerivationPBKDF2, Parameters: hashParams(kmip.HashingAlgorithmMD5), Salt: []byte("s"), IterationCount: 1, LengthBits: 128}, ErrInvalidParameters},
		{"HMAC no data", Derivation{Method: DerivationHMAC, Parameters: sha, LengthBits: 128}, ErrInvalidParameters},
		{"HMAC with IV", Derivation{Method: DerivationHMAC, Parameters: sha, DerivationData: []byte("d"), InitializationVector: seq(16), LengthBits: 128}, ErrInvalidParameters},
		{"ENCRYPT no IV", Derivation{Method: DerivationEncrypt, Parameters: &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeCBC}, DerivationData: seq(16), LengthBits: 128}, ErrInvalidParameters},
		{"ENCRYPT longer than data", Derivation{Method: DerivationEncrypt, Parameters: &kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeECB}, DerivationData: seq(16), LengthBits: 256}, ErrInvalidParameters},
		{"ENCRYPT no mode", Derivation{Method: DerivationEncrypt, DerivationData: seq(16), LengthBits: 128}, ErrInvalidParameters},
		{"feedback mode", Derivation{Method: DerivationNIST800108F, Parameters: sha, LengthBits: 128}, ErrUnsupported},
		{"unknown method", Derivation{Method: 99, Parameters: sha, LengthBits: 128}, ErrUnsupported},
	}
	for _, c := range cases {
		if _, err := DeriveKey(c.d, kmip.CryptographicAlgorithmAES, key); !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.kind)
		}
	}
	if _, err := DeriveKey(Derivation{Method: DerivationHash, Parameters: sha, LengthBits: 128}, 0, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := HKDF(kmip.HashingAlgorithmSHA_256, key, nil, nil, 0); !errors.Is(err, ErrInvalidParameters) {
		t.Errorf("HKDF zero length: %v", err)
	}
}
