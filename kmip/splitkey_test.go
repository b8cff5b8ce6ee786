package kmip_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func splitKey(parts, id, threshold int32, method kmip.SplitKeyMethod, prime *big.Int) *kmip.SplitKey {
	return &kmip.SplitKey{
		SplitKeyParts: parts, KeyPartIdentifier: id, SplitKeyThreshold: threshold, SplitKeyMethod: method, PrimeFieldSize: prime,
		KeyBlock: keyBlockOf(kmip.KeyFormatTypeRaw, derKM(seq(32)), kmip.CryptographicAlgorithmAES, 256),
	}
}

func TestRegisterSplitKey(t *testing.T) {
	prime := big.NewInt(65521)
	for _, tt := range []struct {
		name string
		key  *kmip.SplitKey
	}{
		{"XOR 3 of 3", splitKey(3, 2, 3, kmip.SplitKeyMethodXOR, nil)},
		{"GF(2^16) 2 of 5", splitKey(5, 5, 2, kmip.SplitKeyMethodPolynomialSharingGF216, nil)},
		{"GF(2^8) 3 of 255", splitKey(255, 1, 3, kmip.SplitKeyMethodPolynomialSharingGF28, nil)},
		{"prime field 2 of 3", splitKey(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, prime)},
	} {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_4} {
			t.Run(tt.name+"/"+vname(v), func(t *testing.T) {
				f := kmiptest.New(t)
				id := register(t, f, v, tt.key)
				got := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id}))
				k, isSplit := got.Object.(*kmip.SplitKey)
				if !isSplit || k.SplitKeyParts != tt.key.SplitKeyParts || k.KeyPartIdentifier != tt.key.KeyPartIdentifier ||
					k.SplitKeyThreshold != tt.key.SplitKeyThreshold || k.SplitKeyMethod != tt.key.SplitKeyMethod ||
					(tt.key.PrimeFieldSize != nil) != (k.PrimeFieldSize != nil) {
					t.Fatalf("Get returned %+v", got.Object)
				}
				if b, _ := k.KeyBlock.GetBytes(); !bytes.Equal(b, seq(32)) {
					t.Error("Get returned other material")
				}
				if a, _ := value(getAttrs(t, f, v, id), kmip.AttributeNameCryptographicAlgorithm); a != kmip.CryptographicAlgorithmAES {
					t.Errorf("Cryptographic Algorithm = %v", a)
				}
			})
		}
	}
}

func TestRegisterSplitKeyRejects(t *testing.T) {
	prime := big.NewInt(65521)
	transparent := splitKey(3, 1, 3, kmip.SplitKeyMethodXOR, nil)
	transparent.KeyBlock = keyBlockOf(kmip.KeyFormatTypePKCS_1, derKM(seq(32)), 0, 0)
	empty := splitKey(3, 1, 3, kmip.SplitKeyMethodXOR, nil)
	empty.KeyBlock = keyBlockOf(kmip.KeyFormatTypeRaw, derKM([]byte{}), 0, 0)
	tests := []struct {
		name  string
		key   *kmip.SplitKey
		attrs []kmip.Attribute
		want  []kmip.ResultReason
	}{
		{"one part", splitKey(1, 1, 1, kmip.SplitKeyMethodXOR, nil), nil, invalidField},
		{"256 parts", splitKey(256, 1, 2, kmip.SplitKeyMethodPolynomialSharingGF216, nil), nil, invalidField},
		{"part 0", splitKey(3, 0, 3, kmip.SplitKeyMethodXOR, nil), nil, invalidField},
		{"part beyond the parts", splitKey(3, 4, 3, kmip.SplitKeyMethodXOR, nil), nil, invalidField},
		{"threshold 0", splitKey(3, 1, 0, kmip.SplitKeyMethodPolynomialSharingGF216, nil), nil, invalidField},
		{"threshold beyond the parts", splitKey(3, 1, 4, kmip.SplitKeyMethodPolynomialSharingGF216, nil), nil, invalidField},
		{"XOR below all parts", splitKey(3, 1, 2, kmip.SplitKeyMethodXOR, nil), nil, invalidField},
		{"unknown method", splitKey(3, 1, 2, 99, nil), nil, invalidField},
		{"prime field without prime", splitKey(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, nil), nil, invalidField},
		{"negative prime", splitKey(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, big.NewInt(-7)), nil, invalidField},
		{"huge prime", splitKey(3, 1, 2, kmip.SplitKeyMethodPolynomialSharingPrimeField, new(big.Int).Lsh(big.NewInt(1), 9000)), nil, invalidField},
		{"prime for XOR", splitKey(3, 1, 3, kmip.SplitKeyMethodXOR, prime), nil, invalidField},
		{"PKCS#1 part", transparent, nil, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported, kmip.ResultReasonInvalidField}},
		{"empty part", empty, nil, invalidField},
		{"length differs", splitKey(3, 1, 3, kmip.SplitKeyMethodXOR, nil), []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(128))}, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			fails(t, do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSplitKey, TemplateAttribute: template(tt.attrs...), Object: tt.key}), tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}
