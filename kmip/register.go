package kmip

import (
	"context"
	"reflect"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/objkind"
)

func init() {
	registerRoute(kmip.OperationRegister, kmip.V1_0, func(s *Service) handler { return handle(s.register) })
}

// maxOpaqueBytes bounds the value of a registered Opaque Object; key
// material is bounded by keyformat.MaxKeyBytes.
const maxOpaqueBytes = 512 << 10

// register stores an object the client supplies (KMIP 1.4 §4.3).
func (s *Service) register(ctx context.Context, rc *reqCtx, req *payloads.RegisterRequestPayload) (*payloads.RegisterResponsePayload, error) {
	if req.Object == nil || req.Object.ObjectType() != req.ObjectType {
		return nil, errorf(kmip.ResultReasonInvalidField, "Object Type does not match the object")
	}
	attrs, err := s.templateAttrs(rc, req.TemplateAttribute)
	if err != nil {
		return nil, err
	}
	if tpl, ok := req.Object.(*kmip.Template); ok {
		// A template holds attributes for objects created from it; its own
		// attributes are those of the request, plus the Names it carries so
		// that Create can find it by name.
		if err := checkClientAttrs(tpl.Attribute, rc.version); err != nil {
			return nil, err
		}
		for _, a := range tpl.Attribute {
			if a.AttributeName == kmip.AttributeNameName && !hasValue(attrs, a) {
				attrs = append(attrs, a)
			}
		}
	}
	if metadataOnly(req.Object) {
		// KMIP 1.2 §3.37: a key whose material lives elsewhere (Key Value
		// Location) is registered without a Key Value.
		if ttlv.CompareVersions(rc.version, kmip.V1_2) < 0 {
			return nil, errorf(kmip.ResultReasonInvalidField, "the key block has no key value")
		}
		attrs = append(attrs, kmip.Attribute{AttributeName: kmip.AttributeNameKeyValuePresent, AttributeValue: false})
	} else if err := validateObject(req.Object, attrs, rc.version); err != nil {
		return nil, err
	}
	completeKeyBlock(req.Object, attrs)
	id, err := s.store(ctx, rc, req.Object, attrs, false)
	if err != nil {
		return nil, err
	}
	return &payloads.RegisterResponsePayload{UniqueIdentifier: id}, nil
}

// validateObject checks a registered object's structure and size.
func validateObject(obj kmip.Object, attrs []kmip.Attribute, v kmip.ProtocolVersion) error {
	k, ok := objkind.Lookup(obj.ObjectType())
	if !ok || ttlv.CompareVersions(v, k.Since) < 0 {
		return errorf(kmip.ResultReasonInvalidField, "Register does not support this object type")
	}
	if kb := keyformat.BlockOf(obj); kb != nil && kb.KeyWrappingData != nil {
		// The server cannot see wrapped material: it checks the wrapping
		// and stores the key as given (no Digest; lengths from attributes).
		return validateWrapped(obj, kb, attrs)
	}
	return k.Validate(obj, attrs)
}

// validateWrapped checks a key block registered wrapped (KMIP 1.4 §2.1.5):
// Encrypt is the only wrapping method accepted, since a key that is only
// MACed or signed would be stored in the clear under a wrapped flag.
func validateWrapped(obj kmip.Object, kb *kmip.KeyBlock, attrs []kmip.Attribute) error {
	if kb.KeyCompressionType != 0 {
		return errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	if kb.KeyFormatType == 0 {
		return errorf(kmip.ResultReasonInvalidField, "a wrapped key needs its Key Format Type")
	}
	kwd := kb.KeyWrappingData
	if err := checkWrappingMethod(kwd.WrappingMethod); err != nil {
		return err
	}
	if eki := kwd.EncryptionKeyInformation; eki == nil || eki.UniqueIdentifier == "" || len(eki.UniqueIdentifier) > maxKeyIDBytes {
		return errorf(kmip.ResultReasonInvalidField, "Encryption Key Information must name the wrapping key")
	}
	if kwd.MACSignatureKeyInformation != nil || len(kwd.MACSignature) > 0 {
		return errorf(kmip.ResultReasonInvalidField, "the Encrypt wrapping method carries no MAC/Signature")
	}
	if len(kwd.IVCounterNonce) > maxIVBytes {
		return errorf(kmip.ResultReasonInvalidField, "IV/Counter/Nonce too long")
	}
	b, inStruct := keyformat.WrappedBytes(kb)
	if len(b) == 0 || len(b) > maxWrappedBytes {
		return errorf(kmip.ResultReasonInvalidField, "wrapped key value must hold 1 to %d bytes", maxWrappedBytes)
	}
	switch kwd.EncodingOption {
	case kmip.EncodingOptionNoEncoding:
		if !keyformat.ByteStringFormat(kb.KeyFormatType) {
			return errorf(kmip.ResultReasonEncodingOptionError, "No Encoding wraps Byte String key material only")
		}
		if inStruct && len(kb.KeyValue.Plain.Attribute) > 0 {
			return errorf(kmip.ResultReasonInvalidField, "a Key Value wrapped without encoding carries no attributes")
		}
	case 0, kmip.EncodingOptionTTLVEncoding:
		if inStruct {
			return errorf(kmip.ResultReasonInvalidField, "a TTLV-encoded wrapped Key Value must be a Byte String")
		}
	default:
		return errorf(kmip.ResultReasonEncodingOptionError, "unknown Encoding Option")
	}
	if _, ok := obj.(*kmip.SymmetricKey); ok {
		return checkWrappedSymmetric(kb, attrs)
	}
	return nil
}

// checkWrappedSymmetric verifies that the algorithm and length of a wrapped
// symmetric key agree between block and attributes and are valid; the
// material itself cannot be measured.
func checkWrappedSymmetric(kb *kmip.KeyBlock, attrs []kmip.Attribute) error {
	alg, length := kb.CryptographicAlgorithm, kb.CryptographicLength
	if a, ok := attrValue[kmip.CryptographicAlgorithm](attrs, kmip.AttributeNameCryptographicAlgorithm); ok {
		if alg != 0 && alg != a {
			return errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm differs between the key block and the attributes")
		}
		alg = a
	}
	if l, ok := attrValue[int32](attrs, kmip.AttributeNameCryptographicLength); ok {
		if length != 0 && length != l {
			return errorf(kmip.ResultReasonInvalidField, "Cryptographic Length differs between the key block and the attributes")
		}
		length = l
	}
	if spec, known := symmetricSpecs[alg]; known && length != 0 && !spec.valid(length) {
		return errorf(kmip.ResultReasonInvalidField, "Cryptographic Length not valid for the algorithm")
	}
	return nil
}

// checkSymmetricLength verifies that algorithm, length and material agree.
func checkSymmetricLength(kb *kmip.KeyBlock, attrs []kmip.Attribute, n int) error {
	alg := kb.CryptographicAlgorithm
	if a, ok := attrValue[kmip.CryptographicAlgorithm](attrs, kmip.AttributeNameCryptographicAlgorithm); ok {
		if alg != 0 && alg != a {
			return errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm differs between the key block and the attributes")
		}
		alg = a
	}
	length := kb.CryptographicLength
	if l, ok := attrValue[int32](attrs, kmip.AttributeNameCryptographicLength); ok {
		if length != 0 && length != l {
			return errorf(kmip.ResultReasonInvalidField, "Cryptographic Length differs between the key block and the attributes")
		}
		length = l
	}
	spec, known := symmetricSpecs[alg]
	if !known || length == 0 {
		return nil
	}
	if !spec.valid(length) || spec.bytes(length) != n {
		return errorf(kmip.ResultReasonInvalidField, "key material does not match the Cryptographic Length")
	}
	return nil
}

func hasValue(attrs []kmip.Attribute, want kmip.Attribute) bool {
	for _, a := range attrs {
		if a.AttributeName == want.AttributeName && reflect.DeepEqual(a.AttributeValue, want.AttributeValue) {
			return true
		}
	}
	return false
}

// completeKeyBlock copies the algorithm and length given as attributes into
// a symmetric key block that lacks them: KMIP 1.4 §2.1.3 requires both in
// the Key Block of a symmetric key.
func completeKeyBlock(obj kmip.Object, attrs []kmip.Attribute) {
	key, ok := obj.(*kmip.SymmetricKey)
	if !ok {
		return
	}
	if a, ok := attrValue[kmip.CryptographicAlgorithm](attrs, kmip.AttributeNameCryptographicAlgorithm); ok && key.KeyBlock.CryptographicAlgorithm == 0 {
		key.KeyBlock.CryptographicAlgorithm = a
	}
	if l, ok := attrValue[int32](attrs, kmip.AttributeNameCryptographicLength); ok && key.KeyBlock.CryptographicLength == 0 {
		key.KeyBlock.CryptographicLength = l
	}
	if key.KeyBlock.CryptographicLength == 0 {
		if b, ok := keyformat.PlainBytes(&key.KeyBlock); ok {
			key.KeyBlock.CryptographicLength = int32(len(b) * 8)
		}
	}
}

// metadataOnly reports a key object registered without its key value.
func metadataOnly(obj kmip.Object) bool {
	kb := keyformat.BlockOf(obj)
	return kb != nil && kb.KeyValue == nil && kb.KeyWrappingData == nil
}
