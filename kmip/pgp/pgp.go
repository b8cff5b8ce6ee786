package pgp

import (
	"bytes"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// PGP Key objects (KMIP 1.2+, KMIP 1.4 §2.2.9): "the ASCII-armored export of
// a PGP key in the format as specified in RFC 4880", kept as registered. The
// server reads neither its algorithm nor its size: those the client gives
// in the key block or as attributes must only agree.

// Bounds on registered PGP keys. KMIP names versions 3 and 4; RFC 9580
// adds 6 (and drafts used 5), accepted as well.
const (
	maxPGPKeyBytes   = 64 << 10 // a key with its user ids and signatures
	minPGPKeyVersion = 3
	maxPGPKeyVersion = 6
)

var pgpArmor = []byte("-----BEGIN PGP ")

// Validate checks a registered object of the package's type against the
// attributes given with it. It is an objkind.Kind Validate function.
func Validate(obj kmip.Object, attrs []kmip.Attribute) error {
	k := obj.(*kmip.PGPKey)
	if k.PGPKeyVersion < minPGPKeyVersion || k.PGPKeyVersion > maxPGPKeyVersion {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "PGP Key Version must be from %d to %d", minPGPKeyVersion, maxPGPKeyVersion)
	}
	kb := &k.KeyBlock
	if kb.KeyCompressionType != 0 {
		return kmiperr.Errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	if kb.KeyFormatType != kmip.KeyFormatTypeRaw && kb.KeyFormatType != kmip.KeyFormatTypeOpaque {
		return kmiperr.Errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "a PGP Key is held in the Raw or Opaque format")
	}
	km, err := keyformat.PlainMaterial(kb)
	if err != nil {
		return err
	}
	if km.Bytes == nil || len(*km.Bytes) == 0 || len(*km.Bytes) > maxPGPKeyBytes {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "a PGP Key must hold 1 to %d bytes", maxPGPKeyBytes)
	}
	// ASCII armor, or a binary OpenPGP packet: the first octet of a packet
	// header always has its high bit set (RFC 4880 §4.2).
	b := bytes.TrimLeft(*km.Bytes, " \t\r\n")
	if !bytes.HasPrefix(b, pgpArmor) && (len(b) == 0 || b[0]&0x80 == 0) {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Key Material is neither an ASCII-armored nor a binary OpenPGP key")
	}
	if _, err := keyformat.Agreed(kb.CryptographicAlgorithm, attrs, kmip.AttributeNameCryptographicAlgorithm); err != nil {
		return err
	}
	_, err = keyformat.Agreed(kb.CryptographicLength, attrs, kmip.AttributeNameCryptographicLength)
	return err
}
