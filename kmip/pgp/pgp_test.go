package pgp_test

import (
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiperr"
	"github.com/kmsd/kmsd/kmip/pgp"
)

func key(version int32, format kmip.KeyFormatType, material []byte, alg kmip.CryptographicAlgorithm) *kmip.PGPKey {
	return &kmip.PGPKey{PGPKeyVersion: version, KeyBlock: kmip.KeyBlock{
		KeyFormatType:          format,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
		CryptographicAlgorithm: alg,
	}}
}

func TestValidate(t *testing.T) {
	armored := []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n")
	binary := []byte{0x99, 0x01, 0x0d, 0x04}
	rsa := []kmip.Attribute{{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmRSA}}
	tests := []struct {
		name   string
		key    *kmip.PGPKey
		attrs  []kmip.Attribute
		reason kmip.ResultReason // 0: accepted
	}{
		{"armored v4", key(4, kmip.KeyFormatTypeRaw, armored, 0), nil, 0},
		{"binary v6 opaque", key(6, kmip.KeyFormatTypeOpaque, binary, kmip.CryptographicAlgorithmRSA), rsa, 0},
		{"version 2", key(2, kmip.KeyFormatTypeRaw, armored, 0), nil, kmip.ResultReasonInvalidField},
		{"version 7", key(7, kmip.KeyFormatTypeRaw, armored, 0), nil, kmip.ResultReasonInvalidField},
		{"PKCS#1 format", key(4, kmip.KeyFormatTypePKCS_1, armored, 0), nil, kmip.ResultReasonKeyFormatTypeNotSupported},
		{"not OpenPGP", key(4, kmip.KeyFormatTypeRaw, []byte("hello"), 0), nil, kmip.ResultReasonInvalidField},
		{"empty", key(4, kmip.KeyFormatTypeRaw, []byte{}, 0), nil, kmip.ResultReasonInvalidField},
		{"algorithm disagrees", key(4, kmip.KeyFormatTypeRaw, armored, kmip.CryptographicAlgorithmECDSA), rsa, kmip.ResultReasonInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgp.Validate(tt.key, tt.attrs)
			if tt.reason == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if e, ok := err.(*kmiperr.Error); !ok || e.Reason != tt.reason {
				t.Fatalf("error %v, want reason %v", err, tt.reason)
			}
		})
	}
}
