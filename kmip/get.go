package kmip

import (
	"context"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
)

func init() {
	registerRoute(kmip.OperationGet, kmip.V1_0, func(s *Service) handler { return handle(s.get) })
}

// get returns a managed object, converted to the requested Key Format Type
// (KMIP 1.4 §4.11).
func (s *Service) get(ctx context.Context, rc *reqCtx, req *payloads.GetRequestPayload) (*payloads.GetResponsePayload, error) {
	o, err := s.object(ctx, rc, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if req.KeyWrappingSpecification != nil {
		return nil, errorf(kmip.ResultReasonFeatureNotSupported, "key wrapping on Get is not supported")
	}
	if req.KeyCompressionType != 0 {
		return nil, errorf(kmip.ResultReasonKeyCompressionTypeNotSupported, "key compression is not supported")
	}
	if extractable, ok := o.Attr(kmip.AttributeNameExtractable); ok && extractable == false {
		return nil, errorf(kmip.ResultReasonPermissionDenied, "the object is not extractable")
	}
	obj, err := s.openObject(o)
	if err != nil {
		return nil, err
	}
	obj, err = convertFormat(obj, req.KeyFormatType)
	if err != nil {
		return nil, err
	}
	rc.placeholder = o.ID
	return &payloads.GetResponsePayload{ObjectType: o.ObjectType(), UniqueIdentifier: o.ID, Object: obj}, nil
}
