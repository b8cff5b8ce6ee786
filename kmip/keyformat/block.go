package keyformat

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// RawKeyBlock builds a Raw-format key block.
func RawKeyBlock(material []byte, alg kmip.CryptographicAlgorithm, length int32) kmip.KeyBlock {
	m := material
	return kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &m}}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    length,
	}
}

// BlockOf returns the key block of objects that have one.
func BlockOf(obj kmip.Object) *kmip.KeyBlock {
	switch o := obj.(type) {
	case *kmip.SymmetricKey:
		return &o.KeyBlock
	case *kmip.SecretData:
		return &o.KeyBlock
	case *kmip.PublicKey:
		return &o.KeyBlock
	case *kmip.PrivateKey:
		return &o.KeyBlock
	case *kmip.SplitKey:
		return &o.KeyBlock
	case *kmip.PGPKey:
		return &o.KeyBlock
	}
	return nil
}

// PlainBytes returns the key bytes of a Raw, Opaque or Transparent Symmetric
// Key block; ok is false for wrapped or structured material.
func PlainBytes(kb *kmip.KeyBlock) ([]byte, bool) {
	if kb.KeyValue == nil || kb.KeyValue.Plain == nil || kb.KeyWrappingData != nil {
		return nil, false
	}
	km := kb.KeyValue.Plain.KeyMaterial
	switch kb.KeyFormatType {
	case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque:
		if km.Bytes != nil {
			return *km.Bytes, true
		}
	case kmip.KeyFormatTypeTransparentSymmetricKey:
		if km.TransparentSymmetricKey != nil {
			return km.TransparentSymmetricKey.Key, true
		}
	}
	return nil, false
}

// Digest computes the Digest attribute: SHA-256 over the key material in
// the format it is stored in (KMIP 1.4 §3.17), or over the opaque value.
func Digest(obj kmip.Object) (kmip.Digest, bool) {
	var data []byte
	format := kmip.KeyFormatType(0)
	switch o := obj.(type) {
	case *kmip.OpaqueObject:
		data = o.OpaqueDataValue
	default:
		kb := BlockOf(obj)
		if kb == nil {
			return kmip.Digest{}, false
		}
		b, ok := PlainBytes(kb)
		if !ok {
			return kmip.Digest{}, false
		}
		data, format = b, kb.KeyFormatType
		if format == kmip.KeyFormatTypeTransparentSymmetricKey {
			// A structured format is digested as its TTLV Key Material, as
			// the OASIS test case TC-181 records.
			enc := ttlv.NewTTLVEncoder()
			enc.TagAny(kmip.TagKeyMaterial, &kb.KeyValue.Plain.KeyMaterial)
			data = enc.Bytes()
		}
	}
	sum := sha256.Sum256(data)
	return kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: sum[:], KeyFormatType: format}, true
}

// ConvertSymmetric converts between Raw and Transparent Symmetric Key.
func ConvertSymmetric(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error) {
	key := obj.(*kmip.SymmetricKey)
	b, ok := PlainBytes(&key.KeyBlock)
	if !ok {
		return nil, ErrFormatUnsupported
	}
	out := &kmip.SymmetricKey{KeyBlock: key.KeyBlock}
	switch format {
	case kmip.KeyFormatTypeRaw:
		out.KeyBlock = RawKeyBlock(b, key.KeyBlock.CryptographicAlgorithm, key.KeyBlock.CryptographicLength)
	case kmip.KeyFormatTypeTransparentSymmetricKey:
		out.KeyBlock.KeyFormatType = kmip.KeyFormatTypeTransparentSymmetricKey
		out.KeyBlock.KeyValue = &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{
			TransparentSymmetricKey: &kmip.TransparentSymmetricKey{Key: b},
		}}}
	default:
		return nil, ErrFormatUnsupported
	}
	return out, nil
}

// ByteStringFormat reports whether a Key Format Type holds its Key Material
// as a Byte String (KMIP 1.4 §2.1.4), the only material that No Encoding
// can wrap.
func ByteStringFormat(f kmip.KeyFormatType) bool {
	switch f {
	case kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque, kmip.KeyFormatTypePKCS_1,
		kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509, kmip.KeyFormatTypeECPrivateKey:
		return true
	}
	return false
}

// MaterialBytes returns the Byte String Key Material of a plaintext block.
func MaterialBytes(kb *kmip.KeyBlock) ([]byte, bool) {
	if kb.KeyValue == nil || kb.KeyValue.Plain == nil || kb.KeyWrappingData != nil || !ByteStringFormat(kb.KeyFormatType) {
		return nil, false
	}
	if b := kb.KeyValue.Plain.KeyMaterial.Bytes; b != nil && len(*b) > 0 {
		return *b, true
	}
	return nil, false
}

// WrappedBytes returns the wrapped bytes of a block with Key Wrapping Data:
// the Key Value Byte String (KMIP 1.4 §2.1.4), or, as the KMIP 1.4 test
// case TC-WRAP-1-14 registers a key wrapped without encoding, a Key Value
// structure whose Key Material holds them (inStruct).
func WrappedBytes(kb *kmip.KeyBlock) (b []byte, inStruct bool) {
	switch kv := kb.KeyValue; {
	case kv == nil:
		return nil, false
	case kv.Wrapped != nil:
		return *kv.Wrapped, false
	case kv.Plain != nil && kv.Plain.KeyMaterial.Bytes != nil:
		return *kv.Plain.KeyMaterial.Bytes, true
	}
	return nil, false
}

var ErrKeyValueEncoding = kmiperr.Errorf(kmip.ResultReasonCryptographicFailure, "the unwrapped Key Value is not a valid TTLV Key Value")

// EncodeKeyValue TTLV-encodes a Key Value structure: the key material and
// the attributes wrapped with it (KMIP 1.4 §2.1.5, TTLV Encoding).
func EncodeKeyValue(km kmip.KeyMaterial, attrs []kmip.Attribute) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, errors.New("keyformat: cannot encode the Key Value to wrap")
		}
	}()
	enc := ttlv.NewTTLVEncoder()
	enc.TagAny(kmip.TagKeyValue, &kmip.PlainKeyValue{KeyMaterial: km, Attribute: attrs})
	return enc.Bytes(), nil
}

// DecodeKeyValue decodes an unwrapped TTLV Key Value. Its Key Material can
// only be read knowing the Key Format Type, which the enclosing Key Block
// carries: the Key Value is decoded inside a Key Block made for it.
func DecodeKeyValue(format kmip.KeyFormatType, b []byte) (kv *kmip.KeyValue, err error) {
	if len(b) < 8 || b[0] != 0x42 || b[1] != 0x00 || b[2] != 0x45 || b[3] != byte(ttlv.TypeStructure) ||
		int(binary.BigEndian.Uint32(b[4:8])) != len(b)-8 {
		return nil, ErrKeyValueEncoding
	}
	enc := ttlv.NewTTLVEncoder()
	enc.TagAny(kmip.TagKeyFormatType, format)
	head := enc.Bytes()
	buf := make([]byte, 8, 8+len(head)+len(b))
	defer clear(buf)
	binary.BigEndian.PutUint32(buf[:4], uint32(kmip.TagKeyBlock)<<8|uint32(ttlv.TypeStructure))
	binary.BigEndian.PutUint32(buf[4:8], uint32(len(head)+len(b)))
	buf = append(append(buf, head...), b...)
	defer func() {
		if r := recover(); r != nil {
			kv, err = nil, ErrKeyValueEncoding
		}
	}()
	var kb kmip.KeyBlock
	if err := ttlv.UnmarshalTTLV(buf, &kb); err != nil || kb.KeyValue == nil || kb.KeyValue.Plain == nil {
		return nil, ErrKeyValueEncoding
	}
	// The decoder skips what it does not recognise inside a structure: only
	// a Key Value that encodes back to the same bytes was read in full.
	again, err := EncodeKeyValue(kb.KeyValue.Plain.KeyMaterial, kb.KeyValue.Plain.Attribute)
	defer clear(again)
	if err != nil || subtle.ConstantTimeCompare(again, b) != 1 {
		return nil, ErrKeyValueEncoding
	}
	return kb.KeyValue, nil
}
