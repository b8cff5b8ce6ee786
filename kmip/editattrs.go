package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationAddAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.addAttribute) })
	registerRoute(kmip.OperationModifyAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.modifyAttribute) })
	registerRoute(kmip.OperationDeleteAttribute, kmip.V1_0, func(s *Service) handler { return handle(s.deleteAttribute) })
}

// edit is what a client does to an attribute after creation.
type edit int

const (
	editAdd edit = iota
	editModify
	editDelete
)

func (e edit) allowed(s attrSpec) bool {
	switch e {
	case editAdd:
		return s.Add
	case editModify:
		return s.Modify
	}
	return s.Delete
}

func (e edit) String() string {
	return [...]string{"added", "modified", "deleted"}[e]
}

// checkEditable applies the per-attribute rules of KMIP 1.4 §3 (attrTable)
// to an attribute a client wants to add, modify or delete after creation.
// KMIP 1.4 §4.14: "Read-Only attributes SHALL NOT be added using the Add
// Attribute operation".
func checkEditable(name kmip.AttributeName, v kmip.ProtocolVersion, e edit) error {
	if err := checkName(name, v); err != nil {
		return err
	}
	if !name.IsCustom() && !e.allowed(attrSpecs[name]) {
		return errorf(kmip.ResultReasonPermissionDenied, "attribute %q cannot be %s by the client", name, e)
	}
	return nil
}

// checkValue rejects values of the wrong type or size for a standard
// attribute, and changes the server does not allow on the current value:
//   - Sensitive may only be set and Extractable only cleared, so that the
//     Always Sensitive and Never Extractable fixed at creation stay true;
//   - Usage Limits stop changing once the count no longer equals the total,
//     that is once Get Usage Allocation consumed some (KMIP 1.4 §3.21: the
//     total "SHALL NOT be changed once the Usage Limits Count value has
//     changed by a Get Usage Allocation operation").
func checkValue(a kmip.Attribute, cur *fsm.Object) error {
	if err := checkShape(a); err != nil {
		return err
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
	case kmip.AttributeNameUsageLimits:
		return usageUntouched(cur)
	}
	return nil
}

// usageUntouched refuses to change Usage Limits after some were consumed.
func usageUntouched(cur *fsm.Object) error {
	old, present := cur.Attr(kmip.AttributeNameUsageLimits)
	ul, ok := old.(kmip.UsageLimits)
	if present && ok && ul.UsageLimitsCount != nil && *ul.UsageLimitsCount != ul.UsageLimitsTotal {
		return errorf(kmip.ResultReasonPermissionDenied, "Usage Limits cannot change once usage was allocated")
	}
	return nil
}

func indexOf(a kmip.Attribute) int32 {
	if a.AttributeIndex != nil {
		return *a.AttributeIndex
	}
	return 0
}

// shownIndex is the Attribute Index of a response: omitted for index 0,
// as KMIP 1.4 §2.1.1 allows.
func shownIndex(i int32) *int32 {
	if i == 0 {
		return nil
	}
	return &i
}

// addAttribute adds a new instance of an attribute (KMIP 1.4 §4.14).
func (s *Service) addAttribute(ctx context.Context, rc *reqCtx, req *payloads.AddAttributeRequestPayload) (*payloads.AddAttributeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	a := req.Attribute
	if err := checkEditable(a.AttributeName, rc.version, editAdd); err != nil {
		return nil, err
	}
	if err := checkValue(a, o); err != nil {
		return nil, err
	}
	if err := usageLimits(&a); err != nil {
		return nil, err
	}
	if len(o.Attrs) >= fsm.MaxObjectAttrs {
		return nil, errTooManyAttrs
	}
	single := !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].Multi
	body := &kmsdpb.AddAttribute{Id: o.ID, Attribute: fsm.EncodeAttribute(a), SingleInstance: single}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_ADD_ATTRIBUTE, body); err != nil {
		return nil, err
	}
	// KMIP 1.4 §4.14: "The response returns a new Attribute Index".
	a.AttributeIndex = shownIndex(int32(len(o.AttrAll(a.AttributeName))))
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
	if err := checkEditable(a.AttributeName, rc.version, editModify); err != nil {
		return nil, err
	}
	if a.AttributeIndex != nil && *a.AttributeIndex < 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Attribute Index must not be negative")
	}
	if err := checkValue(a, o); err != nil {
		return nil, err
	}
	if err := usageLimits(&a); err != nil {
		return nil, err
	}
	body := &kmsdpb.ModifyAttribute{Id: o.ID, Attribute: fsm.EncodeAttribute(a), Index: indexOf(a)}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_MODIFY_ATTRIBUTE, body); err != nil {
		return nil, err
	}
	a.AttributeIndex = shownIndex(indexOf(a))
	rc.placeholder = o.ID
	return &payloads.ModifyAttributeResponsePayload{UniqueIdentifier: o.ID, Attribute: a}, nil
}

// deleteAttribute removes one instance of an attribute (KMIP 1.4 §4.16).
func (s *Service) deleteAttribute(ctx context.Context, rc *reqCtx, req *payloads.DeleteAttributeRequestPayload) (*payloads.DeleteAttributeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if err := checkEditable(req.AttributeName, rc.version, editDelete); err != nil {
		return nil, err
	}
	index := int32(0)
	if req.AttributeIndex != nil {
		index = *req.AttributeIndex
	}
	if index < 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Attribute Index must not be negative")
	}
	if req.AttributeName == kmip.AttributeNameUsageLimits {
		if err := usageUntouched(o); err != nil {
			return nil, err
		}
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
