package kmip

import (
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/certs"
	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/objkind"
	"github.com/kmsd/kmsd/kmip/pgp"
	"github.com/kmsd/kmsd/kmip/splitkey"
)

// The object types this server stores (KMIP 1.4 §2.2), one line each: the
// version that may register it, how Register checks it, the attributes the
// server derives from it and its Key Format Type conversions. Register,
// Get, Query and the README feature table all read this registry.
func init() {
	objkind.Register(kmip.ObjectTypeSymmetricKey, objkind.Kind{Since: kmip.V1_0, Validate: validateSymmetric, Convert: keyformat.ConvertSymmetric})
	objkind.Register(kmip.ObjectTypeSecretData, objkind.Kind{Since: kmip.V1_0, Validate: validateSecretData})
	objkind.Register(kmip.ObjectTypeTemplate, objkind.Kind{Since: kmip.V1_0, Validate: validateTemplate})
	objkind.Register(kmip.ObjectTypeOpaqueObject, objkind.Kind{Since: kmip.V1_0, Validate: validateOpaque})
	// A key is stored in the format the client registered it in, or for
	// generated keys in the formats the OASIS test vectors read back
	// without asking for one: PKCS#1 for both RSA halves, PKCS#8 and X.509
	// SubjectPublicKeyInfo for EC.
	objkind.Register(kmip.ObjectTypePublicKey, objkind.Kind{Since: kmip.V1_0, Validate: keyformat.ValidateAsymmetric, Derive: keyformat.DeriveAsymmetric, Convert: keyformat.ConvertAsymmetric})
	objkind.Register(kmip.ObjectTypePrivateKey, objkind.Kind{Since: kmip.V1_0, Validate: keyformat.ValidateAsymmetric, Derive: keyformat.DeriveAsymmetric, Convert: keyformat.ConvertAsymmetric})
	objkind.Register(kmip.ObjectTypeCertificate, objkind.Kind{Since: kmip.V1_0, Validate: certs.Validate, Derive: certs.Derive})
	// Split Key Parts are stored as given; rebuilding a key from them is
	// the client's.
	objkind.Register(kmip.ObjectTypeSplitKey, objkind.Kind{Since: kmip.V1_0, Validate: splitkey.Validate})
	objkind.Register(kmip.ObjectTypePGPKey, objkind.Kind{Since: kmip.V1_2, Validate: pgp.Validate})
}

func validateSymmetric(obj kmip.Object, attrs []kmip.Attribute) error {
	kb := &obj.(*kmip.SymmetricKey).KeyBlock
	b, err := keyformat.KeyBytes(kb, kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeTransparentSymmetricKey)
	if err != nil {
		return err
	}
	return checkSymmetricLength(kb, attrs, len(b))
}

func validateSecretData(obj kmip.Object, _ []kmip.Attribute) error {
	_, err := keyformat.KeyBytes(&obj.(*kmip.SecretData).KeyBlock, kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeOpaque)
	return err
}

// maxTemplateAttrs bounds the attributes a registered Template holds.
const maxTemplateAttrs = 256

func validateTemplate(obj kmip.Object, _ []kmip.Attribute) error {
	if len(obj.(*kmip.Template).Attribute) > maxTemplateAttrs {
		return errorf(kmip.ResultReasonInvalidField, "too many attributes in the template")
	}
	return nil
}

func validateOpaque(obj kmip.Object, _ []kmip.Attribute) error {
	if n := len(obj.(*kmip.OpaqueObject).OpaqueDataValue); n == 0 || n > maxOpaqueBytes {
		return errorf(kmip.ResultReasonInvalidField, "Opaque Data Value must hold 1 to %d bytes", maxOpaqueBytes)
	}
	return nil
}
