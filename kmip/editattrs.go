package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationAddAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.addAttribute) })
	registerRoute(kmip.OperationModifyAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.modifyAttribute) })
	registerRoute(kmip.OperationDeleteAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.deleteAttribute) })
}

// checkEditable applies the per-attribute rules of KMIP 1.4 §3 to an
// attribute a client wants to add, modify or delete after creation.
func checkEditable(name kmip.AttributeName, v kmip.ProtocolVersion) error {
	if name.IsCustom() {
		if name[0] != 'x' {
			return errorf(kmip.ResultReasonPermissionDenied, "only x- custom attributes may be changed by clients")
		}
		return nil
	}
	if !definedIn(name, v) {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q is not defined in KMIP %s", truncate(string(name)), v)
	}
	if !attrSpecs[name].edit {
		return errorf(kmip.ResultReasonPermissionDenied, "attribute %q cannot be changed by the client", name)
	}
	return nil
}

// checkValue rejects values of the wrong type for a standard attribute and
// one-way flags moving back (KMIP 1.4 §3.48, §3.50: Sensitive may only be
// set, Extractable only cleared).
func checkValue(a kmip.Attribute, cur *fsm.Object) error {
	if _, generic := a.AttributeValue.(ttlv.Value); generic && !a.AttributeName.IsCustom() {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q has a value of the wrong type", a.AttributeName)
	}
	old, present := cur.Attr(a.AttributeName)
	switch a.AttributeName {
	case kmip.AttributeNameSensitive:
		if present && old == true && a.AttributeValue == false {
			return errorf(kmip.ResultReasonPermissionDenied, "Sensitive cannot be cleared")
		}
	case kmip.AttributeNameExtractable:
		if present && old == false && a.AttributeValue == true {
			return errorf(kmip.ResultReasonPermissionDenied, "Extractable cannot be set again")
		}
	}
	return nil
}

func indexOf(a kmip.Attribute) int32 {
	if a.AttributeIndex != nil {
		return *a.AttributeIndex
	}
	return 0
}

// addAttribute adds a new instance of an attribute (KMIP 1.4 §4.14).
func (s *Service) addAttribute(ctx context.Context, rc *reqCtx, req *payloads.AddAttributeRequestPayload) (*payloads.AddAttributeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	a := req.Attribute
	if err := checkEditable(a.AttributeName, rc.version); err != nil {
		return nil, err
	}
	if err := checkValue(a, o); err != nil {
		return nil, err
	}
	single := !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].multi
	body := &kmsdpb.AddAttribute{Id: o.ID, Attribute: fsm.EncodeAttribute(a), SingleInstance: single}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_ADD_ATTRIBUTE, body); err != nil {
		return nil, err
	}
	index := int32(len(o.AttrAll(a.AttributeName)))
	a.AttributeIndex = nil
	if index > 0 {
		a.AttributeIndex = &index
	}
	rc.placeholder = o.ID
	return &payloads.AddAttributeResponsePayload{UniqueIdentifier: o.ID, Attribute: a}, nil
}

// modifyAttribute replaces one instance of an attribute (KMIP 1.4 §4.15).
func (s *Service) modifyAttribute(ctx context.Context, rc *reqCtx, req *payloads.ModifyAttributeRequestPayload) (*payloads.ModifyAttributeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	a := req.Attribute
	if err := checkEditable(a.AttributeName, rc.version); err != nil {
		return nil, err
	}
	if err := checkValue(a, o); err != nil {
		return nil, err
	}
	body := &kmsdpb.ModifyAttribute{Id: o.ID, Attribute: fsm.EncodeAttribute(a), Index: indexOf(a)}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_MODIFY_ATTRIBUTE, body); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.ModifyAttributeResponsePayload{UniqueIdentifier: o.ID, Attribute: a}, nil
}

// deleteAttribute removes one instance of an attribute (KMIP 1.4 §4.16).
func (s *Service) deleteAttribute(ctx context.Context, rc *reqCtx, req *payloads.DeleteAttributeRequestPayload) (*payloads.DeleteAttributeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if err := checkEditable(req.AttributeName, rc.version); err != nil {
		return nil, err
	}
	index := int32(0)
	if req.AttributeIndex != nil {
		index = *req.AttributeIndex
	}
	var deleted *kmip.Attribute
	for _, a := range withIndexes(o.Attrs) {
		if a.AttributeName == req.AttributeName && indexOf(a) == index {
			deleted = &a
			break
		}
	}
	body := &kmsdpb.DeleteAttribute{Id: o.ID, Name: string(req.AttributeName), Index: index}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_DELETE_ATTRIBUTE, body); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	resp := &payloads.DeleteAttributeResponsePayload{UniqueIdentifier: o.ID}
	if deleted != nil {
		resp.Attribute = *deleted
	}
	return resp, nil
}
