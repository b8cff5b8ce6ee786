package kmip

import (
	"context"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

func init() {
	registerRoute(kmip.OperationDiscoverVersions, kmip.V1_1, func(s *Service) handler { return handle(s.discoverVersions) })
	registerRoute(kmip.OperationQuery, kmip.V1_0, func(s *Service) handler { return handle(s.query) })
}

// discoverVersions answers with the supported versions, newest first; when
// the client lists versions, only those it listed (KMIP 1.4 §4.26).
func (s *Service) discoverVersions(_ context.Context, _ *reqCtx, req *payloads.DiscoverVersionsRequestPayload) (*payloads.DiscoverVersionsResponsePayload, error) {
	resp := &payloads.DiscoverVersionsResponsePayload{}
	for _, v := range supportedVersions {
		if len(req.ProtocolVersion) == 0 || slices.Contains(req.ProtocolVersion, v) {
			resp.ProtocolVersion = append(resp.ProtocolVersion, v)
		}
	}
	return resp, nil
}

// objectTypes lists the object types this server stores in version v.
func objectTypes(v kmip.ProtocolVersion) []kmip.ObjectType {
	var out []kmip.ObjectType
	for t, k := range objectKinds {
		if ttlv.CompareVersions(v, k.since) >= 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// query answers the Query functions this server supports; functions it
// does not know are ignored, as KMIP 1.4 §4.25 allows.
func (s *Service) query(_ context.Context, rc *reqCtx, req *payloads.QueryRequestPayload) (*payloads.QueryResponsePayload, error) {
	resp := &payloads.QueryResponsePayload{}
	for _, f := range req.QueryFunction {
		switch f {
		case kmip.QueryFunctionOperations:
			resp.Operations = s.operations(rc.version)
		case kmip.QueryFunctionObjects:
			resp.ObjectType = objectTypes(rc.version)
		case kmip.QueryFunctionServerInformation:
			resp.VendorIdentification = s.cfg.ServerInfo
			resp.ServerInformation = &ttlv.Value{Tag: kmip.TagServerInformation, Value: ttlv.Struct{}}
		}
	}
	return resp, nil
}
