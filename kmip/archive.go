package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	registerRoute(kmip.OperationArchive, kmip.V1_0, func(s *Service) handler { return handle(s.archive) })
	registerRoute(kmip.OperationRecover, kmip.V1_0, func(s *Service) handler { return handle(s.recoverObject) })
}

// errArchived answers an operation that needs an on-line object; OASIS
// TC-101 records it for Get on an archived key.
var errArchived = errorf(kmip.ResultReasonObjectArchived, "object is archived")

// archive places an object in archival storage (KMIP 1.4 §4.23). Its
// metadata stays readable and Locate finds it only when asked for archived
// objects; operations that use it answer Object Archived until Recover.
func (s *Service) archive(ctx context.Context, rc *reqCtx, req *payloads.ArchiveRequestPayload) (*payloads.ArchiveResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.Archived() {
		return nil, errArchived
	}
	if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_ARCHIVE, &kmsdpb.Archive{Id: o.ID}); err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.ArchiveResponsePayload{UniqueIdentifier: o.ID}, nil
}

// recoverObject brings an archived object back on-line (KMIP 1.4 §4.24). An
// object that is on-line already needs nothing: the answer is a success.
func (s *Service) recoverObject(ctx context.Context, rc *reqCtx, req *payloads.RecoverRequestPayload) (*payloads.RecoverResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.Archived() {
		if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_RECOVER, &kmsdpb.Recover{Id: o.ID}); err != nil {
			return nil, err
		}
	}
	rc.placeholder = o.ID
	return &payloads.RecoverResponsePayload{UniqueIdentifier: o.ID}, nil
}
