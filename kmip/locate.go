package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
)

func init() {
	registerRoute(kmip.OperationLocate, kmip.V1_0, func(s *Service) handler { return handle(s.locate) })
}

// MaxLocateFilters bounds the attributes one Locate request may carry.
const MaxLocateFilters = 64

// locate searches the client's objects (KMIP 1.4 §4.9).
func (s *Service) locate(ctx context.Context, rc *reqCtx, req *payloads.LocateRequestPayload) (*payloads.LocateResponsePayload, error) {
	if req.MaximumItems < 0 || req.OffsetItems < 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Maximum Items and Offset Items must not be negative")
	}
	if len(req.Attribute) > MaxLocateFilters {
		return nil, errorf(kmip.ResultReasonInvalidField, "too many attributes in Locate")
	}
	// The decoder reads fields newer than the request's version; ignore them.
	if ttlv.CompareVersions(rc.version, kmip.V1_3) < 0 {
		req.OffsetItems = 0
	}
	if ttlv.CompareVersions(rc.version, kmip.V1_1) < 0 {
		req.ObjectGroupMember = 0
	}
	resp := &payloads.LocateResponsePayload{}
	if ttlv.CompareVersions(rc.version, kmip.V1_3) >= 0 {
		resp.LocatedItems = new(int32)
	}
	// Archived objects are not kept yet, so every object is on-line.
	if mask := req.StorageStatusMask; mask != 0 && mask&kmip.StorageStatusOnlineStorage == 0 {
		return resp, nil
	}
	q := fsm.Query{
		Owner:    rc.identity,
		Now:      rc.now,
		Filters:  req.Attribute,
		MaxItems: int(req.MaximumItems),
		Offset:   int(req.OffsetItems),
	}
	// A search cannot tell a stale answer from a complete one, so it always
	// waits for a read barrier: a key created through any node is found.
	if err := s.sync(ctx, rc); err != nil {
		return nil, err
	}
	ids, total, err := s.cfg.Store.Locate(q)
	if err != nil {
		return nil, err
	}
	resp.UniqueIdentifier = ids
	if resp.LocatedItems != nil {
		*resp.LocatedItems = int32(total)
	}
	if len(ids) > 0 {
		rc.placeholder = ids[0]
	}
	return resp, nil
}
