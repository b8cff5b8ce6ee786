package kmip

import (
	"context"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/cryptoalg"
)

// Hash (KMIP 1.2 §4.38) and RNG Retrieve (KMIP 1.2 §4.35): stateless,
// answered by the node that received them without a key or the log.
func init() {
	kmip.RegisterOperationPayload[HashRequestPayload, HashResponsePayload](kmip.OperationHash)
	kmip.RegisterOperationPayload[RNGRetrieveRequestPayload, RNGRetrieveResponsePayload](kmip.OperationRNGRetrieve)
	registerRoute(kmip.OperationHash, kmip.V1_2, func(s *Service) handler { return handle(s.hash) })
	registerRoute(kmip.OperationRNGRetrieve, kmip.V1_2, func(s *Service) handler { return handle(s.rngRetrieve) })
}

// maxRandomBytes bounds one RNG Retrieve.
const maxRandomBytes = 64 << 10

// HashRequestPayload is the Hash request (§4.38).
type HashRequestPayload struct {
	CryptographicParameters *kmip.CryptographicParameters
	Data                    []byte `ttlv:",omitempty"`
	CorrelationValue        []byte `ttlv:",omitempty,version=v1.3.."`
	InitIndicator           *bool  `ttlv:",version=v1.3.."`
	FinalIndicator          *bool  `ttlv:",version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*HashRequestPayload) Operation() kmip.Operation { return kmip.OperationHash }

// HashResponsePayload is the Hash response.
type HashResponsePayload struct {
	Data             []byte `ttlv:",omitempty"`
	CorrelationValue []byte `ttlv:",omitempty,version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*HashResponsePayload) Operation() kmip.Operation { return kmip.OperationHash }

// RNGRetrieveRequestPayload is the RNG Retrieve request (§4.35).
type RNGRetrieveRequestPayload struct {
	DataLength int32
}

// Operation implements kmip.OperationPayload.
func (*RNGRetrieveRequestPayload) Operation() kmip.Operation { return kmip.OperationRNGRetrieve }

// RNGRetrieveResponsePayload is the RNG Retrieve response.
type RNGRetrieveResponsePayload struct {
	Data []byte
}

// Operation implements kmip.OperationPayload.
func (*RNGRetrieveResponsePayload) Operation() kmip.Operation { return kmip.OperationRNGRetrieve }

func (s *Service) hash(_ context.Context, _ *reqCtx, req *HashRequestPayload) (*HashResponsePayload, error) {
	if err := checkData(req.Data, true, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	if req.CryptographicParameters == nil {
		return nil, errorf(kmip.ResultReasonInvalidField, "Cryptographic Parameters with a Hashing Algorithm are required")
	}
	spec, err := cryptoalg.ResolveHash(req.CryptographicParameters)
	if err != nil {
		return nil, cryptoError(err)
	}
	out, err := cryptoalg.Hash(spec, req.Data)
	if err != nil {
		return nil, cryptoError(err)
	}
	return &HashResponsePayload{Data: out}, nil
}

func (s *Service) rngRetrieve(_ context.Context, _ *reqCtx, req *RNGRetrieveRequestPayload) (*RNGRetrieveResponsePayload, error) {
	if req.DataLength <= 0 || req.DataLength > maxRandomBytes {
		return nil, errorf(kmip.ResultReasonInvalidField, "Data Length must be from 1 to %d bytes", maxRandomBytes)
	}
	b, err := cryptoalg.Random(int(req.DataLength), maxRandomBytes)
	if err != nil {
		return nil, cryptoError(err)
	}
	return &RNGRetrieveResponsePayload{Data: b}, nil
}
