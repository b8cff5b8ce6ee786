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
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationReKey, kmip.V1_0, func(s *Service) handler { return handle(s.rekey) })
}

// lifecycleDates are the dates an Offset computes; a request may not give
// both (KMIP 1.4 §11: "Offset field is not permitted to be specified at the
// same time as any of the Activation Date, Process Start Date, Protect Stop
// Date, or Deactivation Date attributes").
var lifecycleDates = []kmip.AttributeName{
	kmip.AttributeNameActivationDate,
	kmip.AttributeNameProcessStartDate,
	kmip.AttributeNameProtectStopDate,
	kmip.AttributeNameDeactivationDate,
}

// rekey generates a replacement for a symmetric key (KMIP 1.4 §4.4). The new
// key gets fresh material and the attributes of the existing key, except
// those the specification sets anew; it takes over the existing key's names,
// and the two keys are linked (Replacement Object / Replaced Object). The
// copy happens in the state machine, in the same command as the links, so
// every replica copies the existing key as it is when the command applies.
func (s *Service) rekey(ctx context.Context, rc *reqCtx, req *payloads.RekeyRequestPayload) (*payloads.RekeyResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.ObjectType() != kmip.ObjectTypeSymmetricKey {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "Re-key applies to symmetric keys")
	}
	if o.Archived() {
		return nil, errArchived
	}
	if st := fsm.EffectiveState(o, rc.now); st == kmip.StateDestroyed || st == kmip.StateDestroyedCompromised {
		return nil, errWrongState
	}
	var client []kmip.Attribute
	if t := req.TemplateAttribute; t != nil {
		if client, err = s.templateAttrs(rc, *t); err != nil {
			return nil, err
		}
	}
	if req.Offset != nil {
		if *req.Offset < 0 {
			return nil, errorf(kmip.ResultReasonInvalidField, "Offset must not be negative")
		}
		for _, name := range lifecycleDates {
			if hasAttr(client, name) {
				return nil, errorf(kmip.ResultReasonInvalidMessage, "Offset cannot be given together with %s", name)
			}
		}
	}
	id := uuid.NewString()
	set, err := s.rekeyMaterial(o, client, id, rc.now)
	if err != nil {
		return nil, err
	}
	body := &kmsdpb.Rekey{OldId: o.ID}
	for _, a := range client {
		switch {
		case hasAttr(set.Attrs, a.AttributeName):
			// Derived from the new material: the algorithm and length were
			// used to generate it, the rest describes it.
		case a.AttributeName.IsCustom() || attrSpecs[a.AttributeName].Multi:
			// Further instances: a Name given here is added to the names
			// taken over from the existing key.
			body.AddedAttributes = append(body.AddedAttributes, fsm.EncodeAttribute(a))
		default:
			set.Attrs = append(set.Attrs, a)
		}
	}
	body.Replacement = set.ToProto()
	if req.Offset != nil {
		body.HasOffset, body.OffsetSeconds = true, int64(*req.Offset/time.Second)
	}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_REKEY, body); err != nil {
		return nil, err
	}
	// §4.4: "The server SHALL copy the Unique Identifier of the replacement
	// key returned by this operation into the ID Placeholder variable."
	rc.placeholder = id
	return &payloads.RekeyResponsePayload{UniqueIdentifier: id}, nil
}

// rekeyMaterial generates the replacement key's material, with the existing
// key's algorithm and length unless the client names others, and returns the
// replacement as the command carries it: id, sealed material, and the
// attributes set anew from the material.
func (s *Service) rekeyMaterial(old *fsm.Object, client []kmip.Attribute, id string, now time.Time) (*fsm.Object, error) {
	alg, _ := attrValue[kmip.CryptographicAlgorithm](old.Attrs, kmip.AttributeNameCryptographicAlgorithm)
	if a, ok := attrValue[kmip.CryptographicAlgorithm](client, kmip.AttributeNameCryptographicAlgorithm); ok {
		alg = a
	}
	length, _ := attrValue[int32](old.Attrs, kmip.AttributeNameCryptographicLength)
	if l, ok := attrValue[int32](client, kmip.AttributeNameCryptographicLength); ok {
		length = l
	}
	spec, ok := symmetricSpecs[alg]
	if !ok || !spec.valid(length) {
		return nil, errorf(kmip.ResultReasonInvalidField, "cannot generate a replacement for this Cryptographic Algorithm and Length")
	}
	material := make([]byte, spec.bytes(length))
	defer clear(material)
	if _, err := rand.Read(material); err != nil {
		return nil, err
	}
	obj := &kmip.SymmetricKey{KeyBlock: keyformat.RawKeyBlock(material, alg, length)}
	sealed, err := s.sealObject(old.Owner, id, obj)
	if err != nil {
		return nil, err
	}
	attrs := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: alg},
		{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: length},
		{AttributeName: kmip.AttributeNameRandomNumberGenerator, AttributeValue: serverRNG},
		{AttributeName: kmip.AttributeNameOriginalCreationDate, AttributeValue: now},
		// §3.34: "The Fresh attribute SHALL be set to True when a new
		// object is created on the server."
		{AttributeName: kmip.AttributeNameFresh, AttributeValue: true},
	}
	if d, ok := keyformat.Digest(obj); ok {
		attrs = append(attrs, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: d})
	}
	return &fsm.Object{ID: id, Material: sealed, Attrs: attrs}, nil
}
