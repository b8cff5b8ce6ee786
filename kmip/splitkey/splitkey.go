package splitkey

import (
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// Split Key objects (KMIP 1.4 §2.2.5): one part of a key split into Split
// Key Parts, any Split Key Threshold of which rebuild it. Register checks
// that the split parameters are consistent and stores the part as given.

// Bounds on split keys: GF(2^8) sharing allows at most 255 parts, and no
// other method needs more in practice.
const (
	maxSplitKeyParts   = 255
	maxPrimeFieldBits  = 8192
	minSplitKeyParts   = 2
	firstKeyPartNumber = 1
)

// Validate checks a registered object of the package's type against the
// attributes given with it. It is an objkind.Kind Validate function.
func Validate(obj kmip.Object, attrs []kmip.Attribute) error {
	k := obj.(*kmip.SplitKey)
	switch {
	case k.SplitKeyParts < minSplitKeyParts || k.SplitKeyParts > maxSplitKeyParts:
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Split Key Parts must be from %d to %d", minSplitKeyParts, maxSplitKeyParts)
	case k.KeyPartIdentifier < firstKeyPartNumber || k.KeyPartIdentifier > k.SplitKeyParts:
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Key Part Identifier must be from 1 to Split Key Parts")
	case k.SplitKeyThreshold < 1 || k.SplitKeyThreshold > k.SplitKeyParts:
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Split Key Threshold must be from 1 to Split Key Parts")
	}
	switch k.SplitKeyMethod {
	case kmip.SplitKeyMethodXOR:
		// Every XOR part is needed to rebuild the key.
		if k.SplitKeyThreshold != k.SplitKeyParts {
			return kmiperr.Errorf(kmip.ResultReasonInvalidField, "an XOR split needs every part: Split Key Threshold must equal Split Key Parts")
		}
	case kmip.SplitKeyMethodPolynomialSharingGF216, kmip.SplitKeyMethodPolynomialSharingGF28:
	case kmip.SplitKeyMethodPolynomialSharingPrimeField:
		// "Required: Yes, if Split Key Method is Polynomial Sharing Prime Field".
		if p := k.PrimeFieldSize; p == nil || p.Sign() <= 0 || p.BitLen() > maxPrimeFieldBits {
			return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Polynomial Sharing Prime Field needs a positive Prime Field Size of at most %d bits", maxPrimeFieldBits)
		}
	default:
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Split Key Method not supported")
	}
	if k.PrimeFieldSize != nil && k.SplitKeyMethod != kmip.SplitKeyMethodPolynomialSharingPrimeField {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Prime Field Size is only for Polynomial Sharing Prime Field")
	}
	kb := &k.KeyBlock
	if _, err := keyformat.KeyBytes(kb, kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque); err != nil {
		return err
	}
	if _, err := keyformat.Agreed(kb.CryptographicAlgorithm, attrs, kmip.AttributeNameCryptographicAlgorithm); err != nil {
		return err
	}
	_, err := keyformat.Agreed(kb.CryptographicLength, attrs, kmip.AttributeNameCryptographicLength)
	return err
}
