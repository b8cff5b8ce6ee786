package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
)

func init() {
	registerRoute(kmip.OperationGet, kmip.V1_0, func(s *Service) handler { return handle(s.get) })
}

// get returns a managed object, converted to the requested Key Format Type
// and wrapped as the request specifies (KMIP 1.4 §4.11).
func (s *Service) get(ctx context.Context, rc *reqCtx, req *payloads.GetRequestPayload) (*payloads.GetResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.Archived() {
		return nil, errArchived
	}
	if req.KeyCompressionType != 0 {
		return nil, errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	switch req.KeyWrapType {
	case 0, kmip.NotWrapped, kmip.AsRegistered:
	default:
		return nil, errorf(kmip.ResultReasonInvalidField, "unknown Key Wrap Type")
	}
	// KMIP 1.4 §3.50: a key that is not extractable does not leave the
	// server, wrapped or not.
	if extractable, ok := o.Attr(kmip.AttributeNameExtractable); ok && extractable == false {
		return nil, errorf(since14(rc, kmip.ResultReasonNotExtractable), "the object is not extractable")
	}
	obj, err := s.openObject(o)
	if err != nil {
		return nil, err
	}
	if req.KeyWrappingSpecification != nil {
		obj, err = s.getWrapped(ctx, rc, o, obj, req)
	} else {
		obj, err = s.getUnwrapped(ctx, rc, o, obj, req)
	}
	if err != nil {
		return nil, err
	}
	if err := s.markServed(ctx, rc, o); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.GetResponsePayload{ObjectType: o.ObjectType(), UniqueIdentifier: o.ID, Object: obj}, nil
}

// since14 returns a result reason that KMIP 1.4 added, or Permission
// Denied for older clients, whose enumeration does not have it.
func since14(rc *reqCtx, r kmip.ResultReason) kmip.ResultReason {
	if ttlv.CompareVersions(rc.version, kmip.V1_4) < 0 {
		return kmip.ResultReasonPermissionDenied
	}
	return r
}

// carriesSecret are the object types whose material is secret: a role that
// exports only wrapped never gets them in clear.
var carriesSecret = map[kmip.ObjectType]bool{
	kmip.ObjectTypeSymmetricKey: true, kmip.ObjectTypePrivateKey: true, kmip.ObjectTypeSplitKey: true,
	kmip.ObjectTypeSecretData: true, kmip.ObjectTypeOpaqueObject: true, kmip.ObjectTypePGPKey: true,
}

// getUnwrapped answers a Get without a Key Wrapping Specification. A key
// registered wrapped comes back as registered unless Key Wrap Type asks for
// Not Wrapped; a Sensitive object's material "SHALL NOT" come back unwrapped
// (KMIP 1.4 §3.48).
func (s *Service) getUnwrapped(ctx context.Context, rc *reqCtx, o *fsm.Object, obj kmip.Object, req *payloads.GetRequestPayload) (kmip.Object, error) {
	kb := keyformat.BlockOf(obj)
	wrapped := kb != nil && kb.KeyWrappingData != nil
	if !wrapped || req.KeyWrapType == kmip.NotWrapped {
		if rc.role.WrappedExportOnly && carriesSecret[o.ObjectType()] {
			return nil, errorf(kmip.ResultReasonPermissionDenied, "this client's role exports key material only wrapped: ask for it with a Key Wrapping Specification")
		}
		if sensitive, ok := o.Attr(kmip.AttributeNameSensitive); ok && sensitive == true {
			return nil, errorf(since14(rc, kmip.ResultReasonSensitive), "the object is sensitive: ask for it wrapped")
		}
	}
	if wrapped && req.KeyWrapType == kmip.NotWrapped {
		if err := s.unwrapBlock(ctx, rc, kb); err != nil {
			return nil, err
		}
	}
	return convertFormat(obj, req.KeyFormatType)
}

// getWrapped answers a Get with a Key Wrapping Specification: the object's
// Key Value, in the requested format, wrapped as specified.
func (s *Service) getWrapped(ctx context.Context, rc *reqCtx, o *fsm.Object, obj kmip.Object, req *payloads.GetRequestPayload) (kmip.Object, error) {
	spec := req.KeyWrappingSpecification
	if req.KeyWrapType != 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Key Wrap Type and a Key Wrapping Specification exclude each other")
	}
	if keyformat.BlockOf(obj) == nil {
		return nil, errorf(kmip.ResultReasonInvalidField, "only objects with a Key Block can be wrapped")
	}
	if err := checkWrappingSpec(spec); err != nil {
		return nil, err
	}
	attrs, err := wrappedAttrs(o, spec.AttributeName, rc)
	if err != nil {
		return nil, err
	}
	kek, err := s.wrappingKey(ctx, rc, spec.EncryptionKeyInformation, forWrap)
	if err != nil {
		return nil, err
	}
	defer kek.close()
	if kb := keyformat.BlockOf(obj); kb.KeyWrappingData != nil {
		if err := s.unwrapBlock(ctx, rc, kb); err != nil {
			return nil, err
		}
	}
	if obj, err = convertFormat(obj, req.KeyFormatType); err != nil {
		return nil, err
	}
	kb := keyformat.BlockOf(obj)
	if kb.KeyValue == nil || kb.KeyValue.Plain == nil {
		return nil, errorf(kmip.ResultReasonInvalidField, "the object has no key value to wrap")
	}
	var plain []byte
	if spec.EncodingOption == kmip.EncodingOptionNoEncoding {
		b, ok := keyformat.MaterialBytes(kb)
		if !ok {
			return nil, errorf(kmip.ResultReasonEncodingOptionError, "No Encoding needs key material that is a byte string: ask for another Key Format Type")
		}
		plain = b
	} else {
		if plain, err = keyformat.EncodeKeyValue(kb.KeyValue.Plain.KeyMaterial, attrs); err != nil {
			return nil, err
		}
		defer clear(plain)
	}
	wrapped, err := kek.wrap(plain)
	if err != nil {
		return nil, err
	}
	kb.KeyValue = &kmip.KeyValue{Wrapped: &wrapped}
	kb.KeyWrappingData = &kmip.KeyWrappingData{
		WrappingMethod: kmip.WrappingMethodEncrypt,
		EncryptionKeyInformation: &kmip.EncryptionKeyInformation{
			UniqueIdentifier:        spec.EncryptionKeyInformation.UniqueIdentifier,
			CryptographicParameters: kek.echo,
		},
		EncodingOption: spec.EncodingOption,
	}
	return obj, nil
}

// checkWrappingSpec validates a Key Wrapping Specification's shape.
func checkWrappingSpec(spec *kmip.KeyWrappingSpecification) error {
	if err := checkWrappingMethod(spec.WrappingMethod); err != nil {
		return err
	}
	if spec.MACSignatureKeyInformation != nil {
		return errorf(kmip.ResultReasonFeatureNotSupported, "MAC/Signature Key Information is not supported: wrap with Encrypt")
	}
	if len(spec.AttributeName) > maxWrapAttrs {
		return errorf(kmip.ResultReasonInvalidField, "too many attribute names to wrap")
	}
	switch spec.EncodingOption {
	case 0, kmip.EncodingOptionTTLVEncoding:
	case kmip.EncodingOptionNoEncoding:
		// §2.1.5: with No Encoding only the key material is wrapped.
		if len(spec.AttributeName) > 0 {
			return errorf(kmip.ResultReasonEncodingOptionError, "attributes can be wrapped with TTLV Encoding only")
		}
	default:
		return errorf(kmip.ResultReasonEncodingOptionError, "unknown Encoding Option")
	}
	return nil
}

// checkWrappingMethod accepts Encrypt, the one method this server performs.
func checkWrappingMethod(m kmip.WrappingMethod) error {
	switch m {
	case kmip.WrappingMethodEncrypt:
		return nil
	case kmip.WrappingMethodMACSign, kmip.WrappingMethodEncryptThenMACSign,
		kmip.WrappingMethodMACSignThenEncrypt, kmip.WrappingMethodTR_31:
		return errorf(kmip.ResultReasonFeatureNotSupported, "wrapping method %s is not supported: use Encrypt", ttlv.EnumStr(m))
	}
	return errorf(kmip.ResultReasonInvalidField, "unknown Wrapping Method")
}

// wrappedAttrs returns the instances of the named attributes, as the
// client's version sees them, to wrap with the key material. A name the
// object has no instance of is skipped.
func wrappedAttrs(o *fsm.Object, names []kmip.AttributeName, rc *reqCtx) ([]kmip.Attribute, error) {
	if len(names) == 0 {
		return nil, nil
	}
	visible := visibleAttrs(o, rc.version, rc.now)
	var out []kmip.Attribute
	seen := map[kmip.AttributeName]bool{}
	for _, name := range names {
		if !definedIn(name, rc.version) {
			return nil, errorf(kmip.ResultReasonInvalidField, "attribute %q is not defined in KMIP %s", truncate(string(name)), rc.version)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, a := range visible {
			if a.AttributeName == name {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// unwrapBlock replaces a wrapped Key Value with its plaintext, using the key
// the Key Wrapping Data names when this server holds it.
func (s *Service) unwrapBlock(ctx context.Context, rc *reqCtx, kb *kmip.KeyBlock) error {
	kwd := kb.KeyWrappingData
	if err := checkWrappingMethod(kwd.WrappingMethod); err != nil {
		return err
	}
	kek, err := s.wrappingKey(ctx, rc, kwd.EncryptionKeyInformation, forUnwrap)
	if err != nil {
		return err
	}
	defer kek.close()
	wrapped, inStruct := keyformat.WrappedBytes(kb)
	if wrapped == nil {
		return errUnwrapFailed
	}
	plain, err := kek.unwrap(wrapped)
	if err != nil {
		return err
	}
	kv := &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &plain}}}
	if inStruct {
		kv.Plain.Attribute = kb.KeyValue.Plain.Attribute
	}
	if kwd.EncodingOption != kmip.EncodingOptionNoEncoding {
		kv, err = keyformat.DecodeKeyValue(kb.KeyFormatType, plain)
		clear(plain)
		if err != nil {
			return err
		}
	}
	kb.KeyValue = kv
	kb.KeyWrappingData = nil
	return nil
}
