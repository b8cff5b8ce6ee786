package kmip

import (
	"reflect"
	"testing"

	"github.com/ovh/kmip-go"
)

func TestMatchParams(t *testing.T) {
	kw := kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeNISTKeyWrap}
	kwAES := kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeNISTKeyWrap, CryptographicAlgorithm: kmip.CryptographicAlgorithmAES}
	kwp := kmip.CryptographicParameters{BlockCipherMode: kmip.BlockCipherModeAESKeyWrapPadding}
	tests := []struct {
		name   string
		given  *kmip.CryptographicParameters
		stored []any
		want   kmip.CryptographicParameters
		ok     bool
	}{
		{"none stored", nil, nil, kmip.CryptographicParameters{}, false},
		{"none given: lowest index", nil, []any{kwp, kw}, kwp, true},
		{"exact", &kw, []any{kwp, kw}, kw, true},
		{"given fields are a subset", &kw, []any{kwAES}, kwAES, true},
		{"given field differs", &kwAES, []any{kw, kwp}, kmip.CryptographicParameters{}, false},
		{"no match", &kwp, []any{kw}, kmip.CryptographicParameters{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := matchParams(tt.given, tt.stored)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
