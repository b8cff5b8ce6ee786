package kmip

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
)

// errNoMaterial answers Get on a destroyed object, as the OASIS test cases
// record it (TC-314: "Object does not exist").
var errNoMaterial = errorf(kmip.ResultReasonItemNotFound, "object does not exist (destroyed)")

// sealObject serialises a managed object's KMIP structure and seals it for id.
func (s *Service) sealObject(id string, obj kmip.Object) ([]byte, error) {
	pt := ttlv.MarshalTTLV(obj)
	defer clear(pt)
	return s.cfg.Sealer.Seal(id, pt)
}

// openObject unseals and decodes a stored object's KMIP structure.
func (s *Service) openObject(o *fsm.Object) (obj kmip.Object, err error) {
	if len(o.Material) == 0 {
		return nil, errNoMaterial
	}
	pt, err := s.cfg.Sealer.Open(o.ID, o.Material)
	if err != nil {
		return nil, fmt.Errorf("kmip: open %s: %w", o.ID, err)
	}
	defer clear(pt)
	obj, err = kmip.NewObjectForType(o.ObjectType())
	if err != nil {
		return nil, fmt.Errorf("kmip: stored object %s: %w", o.ID, err)
	}
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, errors.New("kmip: stored object decoder panicked")
		}
	}()
	if err := ttlv.UnmarshalTTLV(pt, obj); err != nil {
		return nil, fmt.Errorf("kmip: decode stored object %s: %w", o.ID, err)
	}
	return obj, nil
}

// rawKeyBlock builds a Raw-format key block.
func rawKeyBlock(material []byte, alg kmip.CryptographicAlgorithm, length int32) kmip.KeyBlock {
	m := material
	return kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &m}}},
		CryptographicAlgorithm: alg,
		CryptographicLength:    length,
	}
}

// keyBlockOf returns the key block of objects that have one.
func keyBlockOf(obj kmip.Object) *kmip.KeyBlock {
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

// plainBytes returns the key bytes of a Raw, Opaque or Transparent Symmetric
// Key block; ok is false for wrapped or structured material.
func plainBytes(kb *kmip.KeyBlock) ([]byte, bool) {
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

// digestOf computes the Digest attribute: SHA-256 over the key material in
// the format it is stored in (KMIP 1.4 §3.17), or over the opaque value.
func digestOf(obj kmip.Object) (kmip.Digest, bool) {
	var data []byte
	format := kmip.KeyFormatType(0)
	switch o := obj.(type) {
	case *kmip.OpaqueObject:
		data = o.OpaqueDataValue
	default:
		kb := keyBlockOf(obj)
		if kb == nil {
			return kmip.Digest{}, false
		}
		b, ok := plainBytes(kb)
		if !ok {
			return kmip.Digest{}, false
		}
		data, format = b, kb.KeyFormatType
		if format == kmip.KeyFormatTypeTransparentSymmetricKey {
			format = kmip.KeyFormatTypeRaw
		}
	}
	sum := sha256.Sum256(data)
	return kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: sum[:], KeyFormatType: format}, true
}

// convertFormat returns obj in the requested key format type, or an error if
// that conversion is not supported. Format 0 means "as stored".
func convertFormat(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error) {
	if format == 0 {
		return obj, nil
	}
	if kb := keyBlockOf(obj); kb != nil && kb.KeyFormatType == format {
		return obj, nil
	}
	k, ok := objectKinds[obj.ObjectType()]
	if !ok || k.convert == nil {
		return nil, errFormatUnsupport
	}
	return k.convert(obj, format)
}

// convertSymmetric converts between Raw and Transparent Symmetric Key.
func convertSymmetric(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error) {
	key := obj.(*kmip.SymmetricKey)
	b, ok := plainBytes(&key.KeyBlock)
	if !ok {
		return nil, errFormatUnsupport
	}
	out := &kmip.SymmetricKey{KeyBlock: key.KeyBlock}
	switch format {
	case kmip.KeyFormatTypeRaw:
		out.KeyBlock = rawKeyBlock(b, key.KeyBlock.CryptographicAlgorithm, key.KeyBlock.CryptographicLength)
	case kmip.KeyFormatTypeTransparentSymmetricKey:
		out.KeyBlock.KeyFormatType = kmip.KeyFormatTypeTransparentSymmetricKey
		out.KeyBlock.KeyValue = &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{
			TransparentSymmetricKey: &kmip.TransparentSymmetricKey{Key: b},
		}}}
	default:
		return nil, errFormatUnsupport
	}
	return out, nil
}
