package kmip

import (
	"context"
	"crypto/rand"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
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
	for _, a := range req.Attribute {
		if !definedIn(a.AttributeName, rc.version) {
			return nil, errorf(kmip.ResultReasonInvalidField, "attribute %q is not defined in KMIP %s", truncate(string(a.AttributeName)), rc.version)
		}
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
	if req.StorageStatusMask&^(kmip.StorageStatusOnlineStorage|kmip.StorageStatusArchivalStorage) != 0 {
		return nil, errorf(kmip.ResultReasonInvalidField, "Storage Status Mask has undefined bits")
	}
	switch req.ObjectGroupMember {
	case 0, kmip.ObjectGroupMemberFresh, kmip.ObjectGroupMemberDefault:
	default:
		return nil, errorf(kmip.ResultReasonInvalidField, "Object Group Member not valid")
	}
	// KMIP 1.4 §4.9: Maximum Items "specifies the maximum number of
	// object identifiers the server MAY return"; the server bounds it too,
	// and Located Items (1.3 and later) still counts every match, so a
	// client can page through the rest with Offset Items.
	maxItems := int(req.MaximumItems)
	if maxItems == 0 || maxItems > s.cfg.LocateMaxItems {
		maxItems = s.cfg.LocateMaxItems
	}
	q := fsm.Query{
		Owner:       rc.tenant,
		Now:         rc.now,
		Filters:     req.Attribute,
		MaxItems:    maxItems,
		Offset:      int(req.OffsetItems),
		Storage:     req.StorageStatusMask,
		GroupMember: req.ObjectGroupMember,
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
	if total == 0 && dispensesFresh(req) {
		id, err := s.freshDefaultKey(ctx, rc)
		if err != nil {
			return nil, err
		}
		ids, total = []string{id}, 1
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

// defaultObjectGroup is the group from which this server hands out fresh
// keys on demand.
const defaultObjectGroup = "default"

// dispensesFresh reports whether a Locate that found nothing asks for a fresh
// member of the default group, and nothing more: KMIP 1.4 §4.9, "If there are
// no fresh objects in the group, the server MAY choose to generate a new
// object on-the-fly, based on server policy". This server's policy does so
// for the group named "default" only (OASIS TC-151), and only when the
// request constrains nothing else, so that the new key matches the request.
func dispensesFresh(req *payloads.LocateRequestPayload) bool {
	if req.ObjectGroupMember != kmip.ObjectGroupMemberFresh || len(req.Attribute) != 1 || req.OffsetItems != 0 {
		return false
	}
	if mask := req.StorageStatusMask; mask != 0 && mask&kmip.StorageStatusOnlineStorage == 0 {
		return false
	}
	group, ok := req.Attribute[0].AttributeValue.(string)
	return ok && req.Attribute[0].AttributeName == kmip.AttributeNameObjectGroup && group == defaultObjectGroup
}

// freshDefaultKey generates a fresh AES-256 key in the default group.
func (s *Service) freshDefaultKey(ctx context.Context, rc *reqCtx) (string, error) {
	const bits = 256
	material := make([]byte, bits/8)
	defer clear(material)
	if _, err := rand.Read(material); err != nil {
		return "", err
	}
	obj := &kmip.SymmetricKey{KeyBlock: keyformat.RawKeyBlock(material, kmip.CryptographicAlgorithmAES, bits)}
	return s.store(ctx, rc, obj, []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt},
		{AttributeName: kmip.AttributeNameObjectGroup, AttributeValue: defaultObjectGroup},
		{AttributeName: kmip.AttributeNameRandomNumberGenerator, AttributeValue: serverRNG},
	}, true)
}
