package kmip

import (
	"context"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
)

func init() {
	registerRoute(kmip.OperationObtainLease, kmip.V1_0, func(s *Service) handler { return handle(s.obtainLease) })
}

// obtainLease grants a lease on a cryptographic object (KMIP 1.4 §4.17): the
// Lease Time attribute says how long the client may use the object before
// it asks again, and the Last Change Date lets it tell whether its copy is
// current.
//
// Server policy: a lease is given for objects that may be used, Active ones
// for any purpose and Deactivated ones to process data (§3.22). Pre-Active,
// Compromised and destroyed objects get none; OASIS TC-95 records "Permission
// Denied" for a Compromised key. Leases are not recorded: renewing one is
// asking again, so the operation writes nothing.
func (s *Service) obtainLease(ctx context.Context, rc *reqCtx, req *payloads.ObtainLeaseRequestPayload) (*payloads.ObtainLeaseResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.ObjectType() == kmip.ObjectTypeTemplate {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "leases apply to cryptographic objects")
	}
	if o.Archived() {
		return nil, errArchived
	}
	switch st := fsm.EffectiveState(o, rc.now); st {
	case kmip.StateActive, kmip.StateDeactivated:
	default:
		return nil, errorf(kmip.ResultReasonPermissionDenied, "no lease is given for an object in state %s", ttlv.EnumStr(st))
	}
	lease := defaultLeaseTime
	if v, ok := o.Attr(kmip.AttributeNameLeaseTime); ok {
		if d, isDuration := v.(time.Duration); isDuration {
			lease = d
		}
	}
	rc.placeholder = o.ID
	return &payloads.ObtainLeaseResponsePayload{
		UniqueIdentifier: o.ID,
		LeaseTime:        lease,
		LastChangeDate:   o.Date(kmip.AttributeNameLastChangeDate),
	}, nil
}
