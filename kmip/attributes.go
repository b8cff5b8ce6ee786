package kmip

import (
	"context"
	"slices"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/fsm"
)

func init() {
	registerRoute(kmip.OperationGetAttributes, kmip.V1_0, func(s *Service) handler { return handle(s.getAttributes) })
	registerRoute(kmip.OperationGetAttributeList, kmip.V1_0, func(s *Service) handler { return handle(s.getAttributeList) })
}

// MaxAttributeNames bounds the names one Get Attributes request may list.
const MaxAttributeNames = 256

// visibleAttrs returns the object's attributes as a client of version v sees
// them at now: State reflects dates that have passed, attributes the version
// does not define are dropped, and instances carry their Attribute Index.
func visibleAttrs(o *fsm.Object, v kmip.ProtocolVersion, now time.Time) []kmip.Attribute {
	attrs := withIndexes(o.Attrs)
	out := attrs[:0]
	for _, a := range attrs {
		if !definedIn(a.AttributeName, v) {
			continue
		}
		if a.AttributeName == kmip.AttributeNameState {
			a.AttributeValue = fsm.EffectiveState(o, now)
		}
		out = append(out, a)
	}
	return out
}

// getAttributes returns the requested attributes in the order requested, or
// every attribute when none is named (KMIP 1.4 §4.12).
func (s *Service) getAttributes(ctx context.Context, rc *reqCtx, req *payloads.GetAttributesRequestPayload) (*payloads.GetAttributesResponsePayload, error) {
	if len(req.AttributeName) > MaxAttributeNames {
		return nil, errorf(kmip.ResultReasonInvalidField, "too many attribute names")
	}
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	attrs := visibleAttrs(o, rc.version, rc.now)
	resp := &payloads.GetAttributesResponsePayload{UniqueIdentifier: o.ID}
	if len(req.AttributeName) == 0 {
		sortAttrs(attrs)
		resp.Attribute = attrs
	} else {
		seen := map[kmip.AttributeName]bool{}
		for _, name := range req.AttributeName {
			if seen[name] {
				// OASIS TC-171 records Invalid Message for a name asked twice.
				return nil, errorf(kmip.ResultReasonInvalidMessage, "attribute %q named twice", truncate(string(name)))
			}
			seen[name] = true
			found := false
			for _, a := range attrs {
				if a.AttributeName == name {
					resp.Attribute = append(resp.Attribute, a)
					found = true
				}
			}
			// An object's operation policy is the default one unless set.
			if !found && name == kmip.AttributeNameOperationPolicyName && definedIn(name, rc.version) {
				resp.Attribute = append(resp.Attribute, kmip.Attribute{AttributeName: name, AttributeValue: defaultOperationPolicy})
			}
		}
	}
	rc.placeholder = o.ID
	return resp, nil
}

// getAttributeList names the attributes the object has (KMIP 1.4 §4.13).
func (s *Service) getAttributeList(ctx context.Context, rc *reqCtx, req *payloads.GetAttributeListRequestPayload) (*payloads.GetAttributeListResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	attrs := visibleAttrs(o, rc.version, rc.now)
	sortAttrs(attrs)
	resp := &payloads.GetAttributeListResponsePayload{UniqueIdentifier: o.ID}
	for _, a := range attrs {
		if !slices.Contains(resp.AttributeName, a.AttributeName) {
			resp.AttributeName = append(resp.AttributeName, a.AttributeName)
		}
	}
	rc.placeholder = o.ID
	return resp, nil
}
