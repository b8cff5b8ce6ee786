package kmip

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/google/uuid"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/objkind"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationCreate, kmip.V1_0, func(s *Service) handler { return handle(s.create) })
}

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
	attrs, err := s.templateAttrs(rc, req.TemplateAttribute)
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
	obj := &kmip.SymmetricKey{KeyBlock: keyformat.RawKeyBlock(material, alg, length)}
	attrs = append(attrs, kmip.Attribute{AttributeName: kmip.AttributeNameRandomNumberGenerator, AttributeValue: serverRNG})
	id, err := s.store(ctx, rc, obj, attrs, true)
	if err != nil {
		return nil, err
	}
	return &payloads.CreateResponsePayload{ObjectType: kmip.ObjectTypeSymmetricKey, UniqueIdentifier: id}, nil
}

// templateAttrs validates the client's Template-Attribute and merges the
// attributes of the templates it names; explicit attributes take precedence
// over the templates' (KMIP 1.0 §2.1.8).
func (s *Service) templateAttrs(rc *reqCtx, t kmip.TemplateAttribute) ([]kmip.Attribute, error) {
	if err := checkClientAttrs(t.Attribute, rc.version); err != nil {
		return nil, err
	}
	if len(t.Name) == 0 {
		return t.Attribute, nil
	}
	if len(t.Name) > 16 {
		return nil, errorf(kmip.ResultReasonInvalidField, "too many template names")
	}
	var merged []kmip.Attribute
	for _, name := range t.Name {
		content, err := s.templateContent(rc, name)
		if err != nil {
			return nil, err
		}
		for _, a := range content {
			if a.AttributeName != kmip.AttributeNameName {
				merged = append(merged, a)
			}
		}
	}
	// An explicit single-instance attribute replaces the template's; instances
	// of multi-instance attributes accumulate, the template's first.
	for _, a := range t.Attribute {
		if !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].Multi {
			merged = withoutName(merged, a.AttributeName)
		}
	}
	if merged = append(merged, t.Attribute...); len(merged) > fsm.MaxObjectAttrs {
		return nil, errorf(kmip.ResultReasonInvalidField, "too many attributes")
	}
	return merged, nil
}

// templateContent returns the attributes held by the client's template of
// the given name.
func (s *Service) templateContent(rc *reqCtx, name kmip.Name) ([]kmip.Attribute, error) {
	tpl, err := s.template(rc, name)
	if err != nil {
		return nil, err
	}
	obj, err := s.openObject(tpl)
	if err != nil {
		return nil, err
	}
	t, ok := obj.(*kmip.Template)
	if !ok {
		return nil, errorf(kmip.ResultReasonItemNotFound, "template not found")
	}
	return t.Attribute, nil
}

// template finds the client's template with the given name.
func (s *Service) template(rc *reqCtx, name kmip.Name) (*fsm.Object, error) {
	ids, _, err := s.cfg.Store.Locate(fsm.Query{
		Owner: rc.tenant, Now: rc.now, MaxItems: 1,
		Filters: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeTemplate},
			{AttributeName: kmip.AttributeNameName, AttributeValue: name},
		},
	})
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errorf(kmip.ResultReasonItemNotFound, "template not found")
	}
	return s.cfg.Store.Get(ids[0])
}

func withoutName(attrs []kmip.Attribute, name kmip.AttributeName) []kmip.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.AttributeName != name {
			out = append(out, a)
		}
	}
	return out
}

// attrValue returns the first value of the named attribute with type T.
func attrValue[T any](attrs []kmip.Attribute, name kmip.AttributeName) (T, bool) {
	return keyformat.AttrValue[T](attrs, name)
}

func hasAttr(attrs []kmip.Attribute, name kmip.AttributeName) bool {
	for _, a := range attrs {
		if a.AttributeName == name {
			return true
		}
	}
	return false
}

// serverRNG describes the generator of server-made key material: Go's
// crypto/rand over the operating system's CSPRNG, which no KMIP RNG
// Algorithm names more precisely.
var serverRNG = kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified}

// defaultLeaseTime is the Lease Time given to new objects: how long a client
// may use an object before it must obtain a new lease.
const defaultLeaseTime = time.Hour

// pendingObject is a new object on its way to the store.
type pendingObject struct {
	id    string
	obj   kmip.Object
	attrs []kmip.Attribute
}

// store assigns an id, completes the attributes the server derives, seals the
// object and commits it. It sets the batch's ID Placeholder. generated says
// the server made the object (Create), as opposed to a client (Register).
func (s *Service) store(ctx context.Context, rc *reqCtx, obj kmip.Object, clientAttrs []kmip.Attribute, generated bool) (string, error) {
	id := uuid.NewString()
	if err := s.storeObjects(ctx, rc, generated, pendingObject{id, obj, clientAttrs}); err != nil {
		return "", err
	}
	rc.placeholder = id
	return id, nil
}

// storeObjects commits new objects (one, or the halves of a key pair) in one
// command, all or nothing: Object Type first, then the given attributes,
// then those the server derives from each object.
func (s *Service) storeObjects(ctx context.Context, rc *reqCtx, generated bool, objs ...pendingObject) error {
	stored := make([]*kmsdpb.StoredObject, 0, len(objs))
	for _, p := range objs {
		if err := rc.allowType(p.obj.ObjectType()); err != nil {
			return err
		}
		attrs := append([]kmip.Attribute{{AttributeName: kmip.AttributeNameObjectType, AttributeValue: p.obj.ObjectType()}}, p.attrs...)
		attrs = append(attrs, derivedAttrs(p.obj, p.attrs, rc.now, generated)...)
		sealed, err := s.sealObject(rc.tenant, p.id, p.obj)
		if err != nil {
			return err
		}
		o := &fsm.Object{ID: p.id, Material: sealed, Attrs: attrs}
		stored = append(stored, o.ToProto())
	}
	_, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, &kmsdpb.CreateObjects{Objects: stored})
	return err
}

// derivedAttrs are the attributes the server sets from the object itself.
func derivedAttrs(obj kmip.Object, clientAttrs []kmip.Attribute, now time.Time, generated bool) []kmip.Attribute {
	var out []kmip.Attribute
	add := func(name kmip.AttributeName, v any) {
		if !hasAttr(clientAttrs, name) {
			out = append(out, kmip.Attribute{AttributeName: name, AttributeValue: v})
		}
	}
	if kb := keyformat.BlockOf(obj); kb != nil {
		if kb.CryptographicAlgorithm != 0 {
			add(kmip.AttributeNameCryptographicAlgorithm, kb.CryptographicAlgorithm)
		}
		if kb.CryptographicLength != 0 {
			add(kmip.AttributeNameCryptographicLength, kb.CryptographicLength)
		}
	}
	if k, ok := objkind.Lookup(obj.ObjectType()); ok && k.Derive != nil {
		for _, a := range k.Derive(obj) {
			add(a.AttributeName, a.AttributeValue)
		}
	}
	if d, ok := keyformat.Digest(obj); ok {
		out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: d})
	}
	add(kmip.AttributeNameLeaseTime, defaultLeaseTime)
	// The server knows when an object was first made only if it made it;
	// a registered object carries the date its client gives, if any (the
	// OASIS 1.2 recordings show none for registered objects).
	if generated {
		add(kmip.AttributeNameOriginalCreationDate, now)
	}
	if keyformat.BlockOf(obj) == nil {
		return out
	}
	sensitive, _ := attrValue[bool](clientAttrs, kmip.AttributeNameSensitive)
	extractable, set := attrValue[bool](clientAttrs, kmip.AttributeNameExtractable)
	if !set {
		extractable = true
	}
	add(kmip.AttributeNameFresh, true)
	add(kmip.AttributeNameSensitive, sensitive)
	add(kmip.AttributeNameExtractable, extractable)
	out = append(out,
		kmip.Attribute{AttributeName: kmip.AttributeNameAlwaysSensitive, AttributeValue: sensitive},
		kmip.Attribute{AttributeName: kmip.AttributeNameNeverExtractable, AttributeValue: !extractable},
	)
	return out
}
