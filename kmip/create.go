package kmip

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/google/uuid"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// symmetricSpec says which lengths (in bits) an algorithm accepts and how
// many bytes of key material a length needs.
type symmetricSpec struct {
	valid func(bits int32) bool
	bytes func(bits int32) int
}

func fixedLengths(lengths ...int32) func(int32) bool {
	return func(bits int32) bool {
		for _, l := range lengths {
			if bits == l {
				return true
			}
		}
		return false
	}
}

func byteLen(bits int32) int { return int(bits) / 8 }

// hmacLengths accepts whole-byte keys from 64 to 4096 bits.
func hmacLengths(bits int32) bool { return bits >= 64 && bits <= 4096 && bits%8 == 0 }

var symmetricSpecs = map[kmip.CryptographicAlgorithm]symmetricSpec{
	kmip.CryptographicAlgorithmAES: {valid: fixedLengths(128, 192, 256), bytes: byteLen},
	// Triple DES: two-key (112 effective bits, 16 bytes) or three-key (168, 24 bytes).
	kmip.CryptographicAlgorithm3DES: {valid: fixedLengths(112, 128, 168, 192), bytes: func(bits int32) int {
		if bits <= 128 {
			return 16
		}
		return 24
	}},
	kmip.CryptographicAlgorithmHMACSHA1:   {valid: hmacLengths, bytes: byteLen},
	kmip.CryptographicAlgorithmHMACSHA256: {valid: hmacLengths, bytes: byteLen},
	kmip.CryptographicAlgorithmHMACSHA384: {valid: hmacLengths, bytes: byteLen},
	kmip.CryptographicAlgorithmHMACSHA512: {valid: hmacLengths, bytes: byteLen},
}

// create generates a symmetric key (KMIP 1.4 §4.1).
func (s *Service) create(ctx context.Context, rc *reqCtx, req *payloads.CreateRequestPayload) (*payloads.CreateResponsePayload, error) {
	if req.ObjectType != kmip.ObjectTypeSymmetricKey {
		return nil, errorf(kmip.ResultReasonInvalidField, "Create supports the Symmetric Key object type")
	}
	attrs, err := templateAttrs(req.TemplateAttribute, rc.version)
	if err != nil {
		return nil, err
	}
	alg, _ := attrValue[kmip.CryptographicAlgorithm](attrs, kmip.AttributeNameCryptographicAlgorithm)
	length, _ := attrValue[int32](attrs, kmip.AttributeNameCryptographicLength)
	spec, ok := symmetricSpecs[alg]
	if !ok {
		return nil, errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm missing or not supported for symmetric keys")
	}
	if !spec.valid(length) {
		return nil, errorf(kmip.ResultReasonInvalidField, "Cryptographic Length missing or not valid for the algorithm")
	}
	material := make([]byte, spec.bytes(length))
	defer clear(material)
	if _, err := rand.Read(material); err != nil {
		return nil, err
	}
	obj := &kmip.SymmetricKey{KeyBlock: rawKeyBlock(material, alg, length)}
	id, err := s.store(ctx, rc, obj, attrs)
	if err != nil {
		return nil, err
	}
	return &payloads.CreateResponsePayload{ObjectType: kmip.ObjectTypeSymmetricKey, UniqueIdentifier: id}, nil
}

// templateAttrs validates the client's Template-Attribute. Named templates
// (deprecated in KMIP 1.3) are not stored by this server.
func templateAttrs(t kmip.TemplateAttribute, v kmip.ProtocolVersion) ([]kmip.Attribute, error) {
	if len(t.Name) > 0 {
		return nil, errorf(kmip.ResultReasonItemNotFound, "template not found")
	}
	if err := checkClientAttrs(t.Attribute, v); err != nil {
		return nil, err
	}
	return t.Attribute, nil
}

// attrValue returns the first value of the named attribute with type T.
func attrValue[T any](attrs []kmip.Attribute, name kmip.AttributeName) (T, bool) {
	for _, a := range attrs {
		if a.AttributeName == name {
			v, ok := a.AttributeValue.(T)
			return v, ok
		}
	}
	var zero T
	return zero, false
}

func hasAttr(attrs []kmip.Attribute, name kmip.AttributeName) bool {
	for _, a := range attrs {
		if a.AttributeName == name {
			return true
		}
	}
	return false
}

// store assigns an id, completes the attributes the server derives, seals the
// object and commits it. It sets the batch's ID Placeholder.
func (s *Service) store(ctx context.Context, rc *reqCtx, obj kmip.Object, clientAttrs []kmip.Attribute) (string, error) {
	id := uuid.NewString()
	attrs := append([]kmip.Attribute{{AttributeName: kmip.AttributeNameObjectType, AttributeValue: obj.ObjectType()}}, clientAttrs...)
	attrs = append(attrs, derivedAttrs(obj, clientAttrs, rc.now)...)
	sealed, err := s.sealObject(id, obj)
	if err != nil {
		return "", err
	}
	o := &fsm.Object{ID: id, Material: sealed, Attrs: attrs}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{o.ToProto()}}); err != nil {
		return "", err
	}
	rc.placeholder = id
	return id, nil
}

// derivedAttrs are the attributes the server sets from the object itself.
func derivedAttrs(obj kmip.Object, clientAttrs []kmip.Attribute, now time.Time) []kmip.Attribute {
	var out []kmip.Attribute
	add := func(name kmip.AttributeName, v any) {
		if !hasAttr(clientAttrs, name) {
			out = append(out, kmip.Attribute{AttributeName: name, AttributeValue: v})
		}
	}
	if kb := keyBlockOf(obj); kb != nil {
		if kb.CryptographicAlgorithm != 0 {
			add(kmip.AttributeNameCryptographicAlgorithm, kb.CryptographicAlgorithm)
		}
		if kb.CryptographicLength != 0 {
			add(kmip.AttributeNameCryptographicLength, kb.CryptographicLength)
		}
	}
	if d, ok := digestOf(obj); ok {
		out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: d})
	}
	sensitive, _ := attrValue[bool](clientAttrs, kmip.AttributeNameSensitive)
	extractable, set := attrValue[bool](clientAttrs, kmip.AttributeNameExtractable)
	if !set {
		extractable = true
	}
	add(kmip.AttributeNameOriginalCreationDate, now)
	add(kmip.AttributeNameFresh, true)
	add(kmip.AttributeNameSensitive, sensitive)
	add(kmip.AttributeNameExtractable, extractable)
	out = append(out,
		kmip.Attribute{AttributeName: kmip.AttributeNameAlwaysSensitive, AttributeValue: sensitive},
		kmip.Attribute{AttributeName: kmip.AttributeNameNeverExtractable, AttributeValue: !extractable},
	)
	return out
}
