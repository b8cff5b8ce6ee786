package cryptoalg

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ovh/kmip-go"
)

func hashSpec(t *testing.T, h kmip.HashingAlgorithm) HashSpec {
	t.Helper()
	s, err := ResolveHash(&kmip.CryptographicParameters{HashingAlgorithm: h})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHashACVP runs the NIST ACVP SHA-1 and SHA-2 sample sets (AFT).
func TestHashACVP(t *testing.T) {
	for name, h := range map[string]kmip.HashingAlgorithm{"SHA-1": kmip.HashingAlgorithmSHA_1,
		"SHA2-224": kmip.HashingAlgorithmSHA_224, "SHA2-256": kmip.HashingAlgorithmSHA_256,
		"SHA2-384": kmip.HashingAlgorithmSHA_384, "SHA2-512": kmip.HashingAlgorithmSHA_512} {
		f := loadACVP(t, name)
		n := 0
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				msg := unhex(t, tc.Msg)
				if tc.Len != 8*len(msg) {
					t.Fatalf("%s tc %d: bit-oriented message", name, tc.TcID)
				}
				got, err := Hash(hashSpec(t, h), msg)
				if err != nil || !bytes.Equal(got, unhex(t, tc.MD)) {
					t.Fatalf("%s tc %d: %x, %v", name, tc.TcID, got, err)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no vector", name)
		}
	}
}

// TestHashSHA3CAVP runs the CAVP SHA3-256 ShortMsg subset (FIPS 202).
func TestHashSHA3CAVP(t *testing.T) {
	for _, r := range readRecords(t, "cavp/SHA3_256ShortMsg.rsp") {
		bits, err := strconv.Atoi(r.fields["Len"])
		if err != nil {
			t.Fatal(err)
		}
		msg := r.bytes(t, "Msg")[:bits/8]
		got, err := Hash(hashSpec(t, kmip.HashingAlgorithmSHA_3_256), msg)
		if err != nil || !bytes.Equal(got, r.bytes(t, "MD")) {
			t.Fatalf("Len %d: %x, %v", bits, got, err)
		}
	}
}

// TestHashEmptyDigests checks every supported algorithm against the digest
// of the empty message given in FIPS 180-4 / FIPS 202 example files and
// RFC 1321 (MD5).
func TestHashEmptyDigests(t *testing.T) {
	want := map[kmip.HashingAlgorithm]string{
		kmip.HashingAlgorithmMD5:         "d41d8cd98f00b204e9800998ecf8427e",
		kmip.HashingAlgorithmSHA_1:       "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		kmip.HashingAlgorithmSHA_224:     "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f",
		kmip.HashingAlgorithmSHA_256:     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		kmip.HashingAlgorithmSHA_384:     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
		kmip.HashingAlgorithmSHA_512:     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		kmip.HashingAlgorithmSHA_512_224: "6ed0dd02806fa89e25de060c19d3ac86cabb87d6a0ddd05c333b84f4",
		kmip.HashingAlgorithmSHA_512_256: "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a",
		kmip.HashingAlgorithmSHA_3_224:   "6b4e03423667dbb73b6e15454f0eb1abd4597f9a1b078e3f5b5a6bc7",
		kmip.HashingAlgorithmSHA_3_256:   "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
		kmip.HashingAlgorithmSHA_3_384:   "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2ac3713831264adb47fb6bd1e058d5f004",
		kmip.HashingAlgorithmSHA_3_512:   "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
	}
	if len(want) != len(hashes) {
		t.Fatalf("%d digests for %d table rows", len(want), len(hashes))
	}
	for h, d := range want {
		got, err := Hash(hashSpec(t, h), nil)
		if err != nil || !bytes.Equal(got, unhex(t, d)) {
			t.Errorf("%s: %x, %v", enumName(h), got, err)
		}
	}
}

func TestHashStreamingAndRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for h := range hashes {
		spec := hashSpec(t, h)
		data := make([]byte, r.IntN(300))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		want, _ := Hash(spec, data)
		s, err := NewHasher(spec)
		if err != nil {
			t.Fatal(err)
		}
		parts := chunks(r, data)
		for _, p := range parts[:len(parts)-1] {
			if err := s.Update(p); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Final(parts[len(parts)-1])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: streamed digest differs", enumName(h))
		}
		if err := s.Update(nil); !errors.Is(err, ErrFinished) {
			t.Fatalf("Update after Final: %v", err)
		}
	}
	for _, c := range []struct {
		p    *kmip.CryptographicParameters
		kind error
	}{
		{nil, ErrInvalidParameters},
		{&kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmRIPEMD_160}, ErrUnsupported},
		{&kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmMD2}, ErrUnsupported},
		{&kmip.CryptographicParameters{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, BlockCipherMode: kmip.BlockCipherModeCBC}, ErrInvalidParameters},
	} {
		if _, err := ResolveHash(c.p); !errors.Is(err, c.kind) {
			t.Errorf("%+v: err = %v, want %v", c.p, err, c.kind)
		}
	}
}

func TestRandom(t *testing.T) {
	a, err := Random(32, 64)
	if err != nil || len(a) != 32 {
		t.Fatalf("Random(32): %d bytes, %v", len(a), err)
	}
	b, _ := Random(32, 64)
	if bytes.Equal(a, b) {
		t.Fatal("two 32-byte draws are equal")
	}
	if _, err := Random(65, 64); !errors.Is(err, ErrLimit) {
		t.Fatalf("over the bound: %v", err)
	}
	if _, err := Random(0, 64); !errors.Is(err, ErrInvalidParameters) {
		t.Fatalf("zero length: %v", err)
	}
}
