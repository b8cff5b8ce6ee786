package keyformat_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/keyformat"
)

func privateKey(t *testing.T) (*ecdsa.PrivateKey, *kmip.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, &kmip.PrivateKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType: kmip.KeyFormatTypePKCS_8,
		KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &der}}},
	}}
}

func TestValidateCompletesKeyBlock(t *testing.T) {
	_, obj := privateKey(t)
	if err := keyformat.ValidateAsymmetric(obj, nil); err != nil {
		t.Fatal(err)
	}
	if kb := obj.KeyBlock; kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmECDSA || kb.CryptographicLength != 384 {
		t.Fatalf("key block %v/%d", kb.CryptographicAlgorithm, kb.CryptographicLength)
	}
	f, err := keyformat.Inspect(obj)
	if err != nil || !f.Known || f.RSA || f.Bits != 384 || f.Curve != kmip.RecommendedCurveP_384 {
		t.Fatalf("facts %+v, %v", f, err)
	}
	wrongLength := []kmip.Attribute{{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)}}
	if err := keyformat.ValidateAsymmetric(obj, wrongLength); err == nil {
		t.Error("a length that disagrees with the material was accepted")
	}
}

func TestConvertAsymmetric(t *testing.T) {
	key, obj := privateKey(t)
	for _, format := range []kmip.KeyFormatType{
		kmip.KeyFormatTypeECPrivateKey, kmip.KeyFormatTypeTransparentECPrivateKey, kmip.KeyFormatTypeTransparentECDSAPrivateKey,
	} {
		out, err := keyformat.ConvertAsymmetric(obj, format)
		if err != nil {
			t.Fatalf("%v: %v", format, err)
		}
		if kb := keyformat.BlockOf(out); kb.KeyFormatType != format {
			t.Fatalf("%v: got format %v", format, kb.KeyFormatType)
		}
		back, err := keyformat.ConvertAsymmetric(out, kmip.KeyFormatTypePKCS_8)
		if err != nil {
			t.Fatalf("%v back to PKCS#8: %v", format, err)
		}
		b := *keyformat.BlockOf(back).KeyValue.Plain.KeyMaterial.Bytes
		parsed, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil || !key.Equal(parsed) {
			t.Fatalf("%v: round trip changed the key (%v)", format, err)
		}
	}
	if _, err := keyformat.ConvertAsymmetric(obj, kmip.KeyFormatTypePKCS_1); err != keyformat.ErrFormatUnsupported {
		t.Errorf("EC to PKCS#1: %v", err)
	}
}
