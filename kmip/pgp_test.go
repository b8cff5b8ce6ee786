package kmip_test

import (
	"bytes"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

var armoredPGP = []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFHJ\n-----END PGP PUBLIC KEY BLOCK-----\n")

func pgpKey(version int32, format kmip.KeyFormatType, material []byte, alg kmip.CryptographicAlgorithm, bits int32) *kmip.PGPKey {
	return &kmip.PGPKey{PGPKeyVersion: version, KeyBlock: keyBlockOf(format, derKM(material), alg, bits)}
}

func TestRegisterPGPKey(t *testing.T) {
	binary := append([]byte{0x99, 0x01, 0x0d}, seq(40)...) // an old-format public key packet
	for _, tt := range []struct {
		name string
		key  *kmip.PGPKey
	}{
		{"armored v4 RSA", pgpKey(4, kmip.KeyFormatTypeRaw, armoredPGP, kmip.CryptographicAlgorithmRSA, 2048)},
		{"binary v3", pgpKey(3, kmip.KeyFormatTypeRaw, binary, 0, 0)},
		{"opaque v6", pgpKey(6, kmip.KeyFormatTypeOpaque, armoredPGP, 0, 0)},
	} {
		for _, v := range []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_4} {
			t.Run(tt.name+"/"+vname(v), func(t *testing.T) {
				f := kmiptest.New(t)
				id := register(t, f, v, tt.key, attr(kmip.AttributeNameAlternativeName, kmip.AlternativeName{AlternativeNameValue: "6CCA0D26", AlternativeNameType: kmip.AlternativeNameTypeObjectSerialNumber}))
				got := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id}))
				k, isPGP := got.Object.(*kmip.PGPKey)
				if !isPGP || k.PGPKeyVersion != tt.key.PGPKeyVersion {
					t.Fatalf("Get returned %T %+v", got.Object, got.Object)
				}
				if b, _ := k.KeyBlock.GetBytes(); !bytes.Equal(b, *tt.key.KeyBlock.KeyValue.Plain.KeyMaterial.Bytes) {
					t.Error("Get returned other material")
				}
				attrs := getAttrs(t, f, v, id)
				if a, found := value(attrs, kmip.AttributeNameCryptographicAlgorithm); tt.key.KeyBlock.CryptographicAlgorithm != 0 && a != tt.key.KeyBlock.CryptographicAlgorithm || tt.key.KeyBlock.CryptographicAlgorithm == 0 && found {
					t.Errorf("Cryptographic Algorithm = %v", a)
				}
				if _, found := value(attrs, kmip.AttributeNameDigest); !found {
					t.Error("no Digest")
				}
			})
		}
	}
}

func TestRegisterPGPKeyRejects(t *testing.T) {
	tests := []struct {
		name  string
		v     kmip.ProtocolVersion
		key   *kmip.PGPKey
		attrs []kmip.Attribute
		want  []kmip.ResultReason
	}{
		{"KMIP 1.1 has no PGP Key", kmip.V1_1, pgpKey(4, kmip.KeyFormatTypeRaw, armoredPGP, 0, 0), nil, invalidField},
		{"version 2", kmip.V1_4, pgpKey(2, kmip.KeyFormatTypeRaw, armoredPGP, 0, 0), nil, invalidField},
		{"version 7", kmip.V1_4, pgpKey(7, kmip.KeyFormatTypeRaw, armoredPGP, 0, 0), nil, invalidField},
		{"not OpenPGP", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypeRaw, []byte("hello"), 0, 0), nil, invalidField},
		{"empty", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypeRaw, []byte{}, 0, 0), nil, invalidField},
		{"oversized", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypeRaw, append(bytes.Clone(armoredPGP), make([]byte, 64<<10)...), 0, 0), nil, invalidField},
		{"PKCS#1 format", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypePKCS_1, armoredPGP, 0, 0), nil, []kmip.ResultReason{kmip.ResultReasonKeyFormatTypeNotSupported}},
		{"algorithm differs", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypeRaw, armoredPGP, kmip.CryptographicAlgorithmRSA, 2048), []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmDSA)}, invalidField},
		{"length differs", kmip.V1_4, pgpKey(4, kmip.KeyFormatTypeRaw, armoredPGP, kmip.CryptographicAlgorithmRSA, 2048), []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(4096))}, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			fails(t, do(t, f, tt.v, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypePGPKey, TemplateAttribute: template(tt.attrs...), Object: tt.key}), tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}
