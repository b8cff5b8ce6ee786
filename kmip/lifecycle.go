package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationActivate, kmip.V1_0, func(s *Service) handler { return handle(s.activate) })
	registerRoute(kmip.OperationRevoke, kmip.V1_0, func(s *Service) handler { return handle(s.revoke) })
	registerRoute(kmip.OperationDestroy, kmip.V1_0, func(s *Service) handler { return handle(s.destroy) })
}

// activate moves a Pre-Active object to Active (KMIP 1.4 §4.19).
func (s *Service) activate(ctx context.Context, rc *reqCtx, req *payloads.ActivateRequestPayload) (*payloads.ActivateResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, &kmsdpb.Activate{Id: o.ID}); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.ActivateResponsePayload{UniqueIdentifier: o.ID}, nil
}

// revoke deactivates or marks compromised an object (KMIP 1.4 §4.20).
func (s *Service) revoke(ctx context.Context, rc *reqCtx, req *payloads.RevokeRequestPayload) (*payloads.RevokeResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	code := req.RevocationReason.RevocationReasonCode
	if code < kmip.RevocationReasonCodeUnspecified || code > kmip.RevocationReasonCodePrivilegeWithdrawn {
		return nil, errorf(kmip.ResultReasonInvalidField, "Revocation Reason Code not valid")
	}
	if len(req.RevocationReason.RevocationMessage) > 1024 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Revocation Message too long")
	}
	body := &kmsdpb.Revoke{Id: o.ID, ReasonCode: uint32(code), Message: req.RevocationReason.RevocationMessage}
	if d := req.CompromiseOccurrenceDate; d != nil {
		body.CompromiseOccurrenceUnixNano = d.UnixNano()
	}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_REVOKE, body); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.RevokeResponsePayload{UniqueIdentifier: o.ID}, nil
}

// destroy removes an object's key material, keeping its metadata (KMIP 1.4 §4.21).
func (s *Service) destroy(ctx context.Context, rc *reqCtx, req *payloads.DestroyRequestPayload) (*payloads.DestroyResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if rc.role.DestroyOwnOnly && o.Creator != rc.identity {
		return nil, errorf(kmip.ResultReasonPermissionDenied, "this client's role destroys only objects it created")
	}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_DESTROY, &kmsdpb.Destroy{Id: o.ID}); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.DestroyResponsePayload{UniqueIdentifier: o.ID}, nil
}
