package keywrap_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/kmip/keywrap"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAESKeyWrapRFC3394 checks the test vectors of RFC 3394 §4.
func TestAESKeyWrapRFC3394(t *testing.T) {
	const (
		kek128 = "000102030405060708090A0B0C0D0E0F"
		kek192 = "000102030405060708090A0B0C0D0E0F1011121314151617"
		kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
		key128 = "00112233445566778899AABBCCDDEEFF"
		key192 = "00112233445566778899AABBCCDDEEFF0001020304050607"
		key256 = "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"
	)
	tests := []struct{ name, kek, key, wrapped string }{
		{"4.1 128-bit key, 128-bit KEK", kek128, key128, "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5"},
		{"4.2 128-bit key, 192-bit KEK", kek192, key128, "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D"},
		{"4.3 128-bit key, 256-bit KEK", kek256, key128, "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"},
		{"4.4 192-bit key, 192-bit KEK", kek192, key192, "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2"},
		{"4.5 192-bit key, 256-bit KEK", kek256, key192, "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1"},
		{"4.6 256-bit key, 256-bit KEK", kek256, key256, "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kek, key, want := unhex(t, tt.kek), unhex(t, tt.key), unhex(t, tt.wrapped)
			got, err := keywrap.Wrap(kek, key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("wrap = %X, %v; want %X", got, err, want)
			}
			back, err := keywrap.Unwrap(kek, want)
			if err != nil || !bytes.Equal(back, key) {
				t.Fatalf("unwrap = %X, %v", back, err)
			}
			for i := range want {
				bad := bytes.Clone(want)
				bad[i] ^= 0x01
				if _, err := keywrap.Unwrap(kek, bad); !errors.Is(err, keywrap.ErrVerify) {
					t.Fatalf("byte %d flipped: unwrap error %v, want integrity failure", i, err)
				}
			}
		})
	}
}

// TestAESKeyWrapPadRFC5649 checks the test vectors of RFC 5649 §6 and every
// length up to a few blocks.
func TestAESKeyWrapPadRFC5649(t *testing.T) {
	kek := unhex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	tests := []struct{ name, key, wrapped string }{
		{"20 octets", "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"7 octets", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, want := unhex(t, tt.key), unhex(t, tt.wrapped)
			got, err := keywrap.WrapPad(kek, key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("wrap = %x, %v; want %x", got, err, want)
			}
			back, err := keywrap.UnwrapPad(kek, want)
			if err != nil || !bytes.Equal(back, key) {
				t.Fatalf("unwrap = %x, %v", back, err)
			}
			bad := bytes.Clone(want)
			bad[len(bad)-1] ^= 0x80
			if _, err := keywrap.UnwrapPad(kek, bad); !errors.Is(err, keywrap.ErrVerify) {
				t.Fatalf("tampered: unwrap error %v", err)
			}
		})
	}
	t.Run("round trip 1 to 40 bytes", func(t *testing.T) {
		for n := 1; n <= 40; n++ {
			key := bytes.Repeat([]byte{byte(n)}, n)
			w, err := keywrap.WrapPad(kek, key)
			if err != nil || len(w) != (n+7)/8*8+8 {
				t.Fatalf("n=%d: wrapped %d bytes, %v", n, len(w), err)
			}
			if back, err := keywrap.UnwrapPad(kek, w); err != nil || !bytes.Equal(back, key) {
				t.Fatalf("n=%d: unwrap %x, %v", n, back, err)
			}
		}
	})
	t.Run("RFC 3394 output is not accepted as RFC 5649", func(t *testing.T) {
		w, err := keywrap.Wrap(kek, bytes.Repeat([]byte{7}, 16))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keywrap.UnwrapPad(kek, w); !errors.Is(err, keywrap.ErrVerify) {
			t.Fatalf("unwrap error %v", err)
		}
	})
}

func TestAESKeyWrapLengths(t *testing.T) {
	kek := make([]byte, 16)
	tests := []struct {
		name string
		f    func(kek, in []byte) ([]byte, error)
		n    int
	}{
		{"wrap 8 bytes", keywrap.Wrap, 8},
		{"wrap 20 bytes", keywrap.Wrap, 20},
		{"unwrap 16 bytes", keywrap.Unwrap, 16},
		{"unwrap 33 bytes", keywrap.Unwrap, 33},
		{"pad wrap empty", keywrap.WrapPad, 0},
		{"pad unwrap 8 bytes", keywrap.UnwrapPad, 8},
		{"pad unwrap 20 bytes", keywrap.UnwrapPad, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.f(kek, make([]byte, tt.n)); !errors.Is(err, keywrap.ErrInput) {
				t.Fatalf("error %v, want a length error", err)
			}
		})
	}
	if _, err := keywrap.Wrap(make([]byte, 15), make([]byte, 16)); err == nil {
		t.Error("a 15-byte KEK was accepted")
	}
}
