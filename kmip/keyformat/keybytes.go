package keyformat

import (
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// MaxKeyBytes bounds the plaintext key material of a symmetric key, secret
// data or split key that a client registers.
const MaxKeyBytes = 8 << 10

// AttrValue returns the first value of the named attribute with type T.
func AttrValue[T any](attrs []kmip.Attribute, name kmip.AttributeName) (T, bool) {
	for _, a := range attrs {
		if a.AttributeName == name {
			v, ok := a.AttributeValue.(T)
			return v, ok
		}
	}
	var zero T
	return zero, false
}

// KeyBytes returns the plaintext key bytes of a block in one of the
// formats, bounded by MaxKeyBytes. Wrapped blocks are refused: their
// material cannot be read.
func KeyBytes(kb *kmip.KeyBlock, formats ...kmip.KeyFormatType) ([]byte, error) {
	if kb.KeyWrappingData != nil {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "wrapped key material cannot be read")
	}
	if kb.KeyCompressionType != 0 {
		return nil, kmiperr.Errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	ok := false
	for _, f := range formats {
		ok = ok || kb.KeyFormatType == f
	}
	if !ok {
		return nil, kmiperr.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "key format type not supported for this object")
	}
	b, ok := PlainBytes(kb)
	if !ok || len(b) == 0 || len(b) > MaxKeyBytes {
		return nil, kmiperr.Errorf(kmip.ResultReasonInvalidField, "key material must hold 1 to %d bytes", MaxKeyBytes)
	}
	return b, nil
}
