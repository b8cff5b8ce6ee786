package splitkey_test

import (
	"math/big"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiperr"
	"github.com/kmsd/kmsd/kmip/splitkey"
)

func part(parts, id, threshold int32, method kmip.SplitKeyMethod, prime *big.Int) *kmip.SplitKey {
	material := make([]byte, 32)
	return &kmip.SplitKey{
		SplitKeyParts: parts, KeyPartIdentifier: id, SplitKeyThreshold: threshold,
		SplitKeyMethod: method, PrimeFieldSize: prime,
		KeyBlock: kmip.KeyBlock{
			KeyFormatType:          kmip.KeyFormatTypeRaw,
			KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
			CryptographicAlgorithm: kmip.CryptographicAlgorithmAES,
			CryptographicLength:    256,
		},
	}
}

func TestValidate(t *testing.T) {
	prime := big.NewInt(65537)
	tests := []struct {
		name string
		key  *kmip.SplitKey
		ok   bool
	}{
		{"XOR, every part", part(3, 2, 3, kmip.SplitKeyMethodXOR, nil), true},
		{"GF(2^8) 2 of 5", part(5, 5, 2, kmip.SplitKeyMethodPolynomialSharingGF28, nil), true},
		{"prime field", part(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, prime), true},
		{"XOR below every part", part(3, 1, 2, kmip.SplitKeyMethodXOR, nil), false},
		{"one part", part(1, 1, 1, kmip.SplitKeyMethodXOR, nil), false},
		{"256 parts", part(256, 1, 2, kmip.SplitKeyMethodPolynomialSharingGF28, nil), false},
		{"part 0", part(3, 0, 2, kmip.SplitKeyMethodPolynomialSharingGF28, nil), false},
		{"part beyond parts", part(3, 4, 2, kmip.SplitKeyMethodPolynomialSharingGF28, nil), false},
		{"threshold 0", part(3, 1, 0, kmip.SplitKeyMethodPolynomialSharingGF28, nil), false},
		{"prime field without prime", part(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, nil), false},
		{"prime with another method", part(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingGF28, prime), false},
		{"unknown method", part(3, 1, 2, 99, nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := splitkey.Validate(tt.key, nil)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if e, ok := err.(*kmiperr.Error); !ok || e.Reason != kmip.ResultReasonInvalidField {
				t.Fatalf("error %v, want Invalid Field", err)
			}
		})
	}
	length := []kmip.Attribute{{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(128)}}
	if err := splitkey.Validate(part(3, 1, 3, kmip.SplitKeyMethodXOR, nil), length); err == nil {
		t.Error("a length disagreeing with the key block was accepted")
	}
}
