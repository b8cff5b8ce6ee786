package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationGetUsageAllocation, kmip.V1_0, func(s *Service) handler { return handle(s.getUsageAllocation) })
}

// errUsageExhausted answers an allocation larger than what remains; OASIS
// TC-51 records "Permission Denied" for it.
var errUsageExhausted = errorf(kmip.ResultReasonPermissionDenied, "unable to allocate the requested amount")

// usageLimited are the object types that apply cryptographic protection and
// so may carry Usage Limits: keys (KMIP 1.4 §3.21, "Applies to Object
// Types: Keys, Templates"; a template is never used itself).
var usageLimited = map[kmip.ObjectType]bool{
	kmip.ObjectTypeSymmetricKey: true,
	kmip.ObjectTypePublicKey:    true,
	kmip.ObjectTypePrivateKey:   true,
	kmip.ObjectTypeSplitKey:     true,
	kmip.ObjectTypePGPKey:       true,
}

// getUsageAllocation reserves part of an object's Usage Limits for the
// client (KMIP 1.4 §4.18). The count is decremented through the log, so
// clients of every node draw on the same total; the checks are repeated
// when the command is applied.
func (s *Service) getUsageAllocation(ctx context.Context, rc *reqCtx, req *payloads.GetUsageAllocationRequestPayload) (*payloads.GetUsageAllocationResponsePayload, error) {
	if req.UsageLimitsCount <= 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Usage Limits Count must be positive")
	}
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.Archived() {
		return nil, errArchived
	}
	// §4.18: "If the operation is requested for an object that has no Usage
	// Limits attribute, or is not an object that MAY be used for applying
	// cryptographic protection, then the server SHALL return an error."
	if _, limited := o.Attr(kmip.AttributeNameUsageLimits); !limited || !usageLimited[o.ObjectType()] {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "the object has no Usage Limits to allocate from")
	}
	body := &kmsdpb.AllocateUsage{Id: o.ID, Amount: req.UsageLimitsCount}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_ALLOCATE_USAGE, body); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.GetUsageAllocationResponsePayload{UniqueIdentifier: o.ID}, nil
}
