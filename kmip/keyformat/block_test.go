package keyformat_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/keyformat"
)

func TestKeyValueEncoding(t *testing.T) {
	material := []byte("0123456789abcdef")
	attrs := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt},
		{AttributeName: "x-label", AttributeValue: ttlv.Value{Tag: kmip.TagAttributeValue, Value: "v"}},
	}
	b, err := keyformat.EncodeKeyValue(kmip.KeyMaterial{Bytes: &material}, attrs)
	if err != nil || len(b)%8 != 0 {
		t.Fatalf("encode: %d bytes, %v", len(b), err)
	}
	kv, err := keyformat.DecodeKeyValue(kmip.KeyFormatTypeRaw, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := kv.Plain.KeyMaterial.Bytes; got == nil || !bytes.Equal(*got, material) {
		t.Errorf("material %v", got)
	}
	if len(kv.Plain.Attribute) != 2 || kv.Plain.Attribute[0].AttributeValue != kmip.CryptographicUsageEncrypt {
		t.Errorf("attributes %+v", kv.Plain.Attribute)
	}

	transparent := []byte("fedcba9876543210")
	tb, err := keyformat.EncodeKeyValue(kmip.KeyMaterial{TransparentSymmetricKey: &kmip.TransparentSymmetricKey{Key: transparent}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kv, err := keyformat.DecodeKeyValue(kmip.KeyFormatTypeTransparentSymmetricKey, tb); err != nil || !bytes.Equal(kv.Plain.KeyMaterial.TransparentSymmetricKey.Key, transparent) {
		t.Fatalf("transparent: %+v, %v", kv, err)
	}

	bad := map[string][]byte{
		"empty":          nil,
		"short":          b[:6],
		"truncated":      b[:len(b)-8],
		"trailing bytes": append(bytes.Clone(b), make([]byte, 8)...),
		"wrong tag":      append([]byte{0x42, 0x00, 0x43}, b[3:]...),
		"not a struct":   append([]byte{0x42, 0x00, 0x45, 0x08}, b[4:]...),
		"garbage body":   append(bytes.Clone(b[:8]), bytes.Repeat([]byte{0xff}, len(b)-8)...),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := keyformat.DecodeKeyValue(kmip.KeyFormatTypeRaw, in); !errors.Is(err, keyformat.ErrKeyValueEncoding) {
				t.Fatalf("error %v", err)
			}
		})
	}
}
