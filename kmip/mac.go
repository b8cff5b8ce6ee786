package kmip

import (
	"context"
	"errors"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/cryptoalg"
)

// MAC and MAC Verify (KMIP 1.2 §4.33, §4.34): HMAC with the SHA-1, SHA-2
// and SHA-3 hashes, and CMAC with AES keys. ovh/kmip-go has no payloads
// for them; these follow the spec's tables.
func init() {
	kmip.RegisterOperationPayload[MACRequestPayload, MACResponsePayload](kmip.OperationMAC)
	kmip.RegisterOperationPayload[MACVerifyRequestPayload, MACVerifyResponsePayload](kmip.OperationMACVerify)
	registerRoute(kmip.OperationMAC, kmip.V1_2, func(s *Service) handler { return handle(s.mac) })
	registerRoute(kmip.OperationMACVerify, kmip.V1_2, func(s *Service) handler { return handle(s.macVerify) })
}

// MACRequestPayload is the MAC request (§4.33).
type MACRequestPayload struct {
	UniqueIdentifier        string `ttlv:",omitempty"`
	CryptographicParameters *kmip.CryptographicParameters
	Data                    []byte `ttlv:",omitempty"`
	CorrelationValue        []byte `ttlv:",omitempty,version=v1.3.."`
	InitIndicator           *bool  `ttlv:",version=v1.3.."`
	FinalIndicator          *bool  `ttlv:",version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*MACRequestPayload) Operation() kmip.Operation { return kmip.OperationMAC }

// MACResponsePayload is the MAC response.
type MACResponsePayload struct {
	UniqueIdentifier string
	MACData          []byte `ttlv:",omitempty"`
	CorrelationValue []byte `ttlv:",omitempty,version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*MACResponsePayload) Operation() kmip.Operation { return kmip.OperationMAC }

// MACVerifyRequestPayload is the MAC Verify request (§4.34).
type MACVerifyRequestPayload struct {
	UniqueIdentifier        string `ttlv:",omitempty"`
	CryptographicParameters *kmip.CryptographicParameters
	Data                    []byte `ttlv:",omitempty"`
	MACData                 []byte `ttlv:",omitempty"`
	CorrelationValue        []byte `ttlv:",omitempty,version=v1.3.."`
	InitIndicator           *bool  `ttlv:",version=v1.3.."`
	FinalIndicator          *bool  `ttlv:",version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*MACVerifyRequestPayload) Operation() kmip.Operation { return kmip.OperationMACVerify }

// MACVerifyResponsePayload is the MAC Verify response.
type MACVerifyResponsePayload struct {
	UniqueIdentifier  string
	ValidityIndicator kmip.ValidityIndicator
	CorrelationValue  []byte `ttlv:",omitempty,version=v1.3.."`
}

// Operation implements kmip.OperationPayload.
func (*MACVerifyResponsePayload) Operation() kmip.Operation { return kmip.OperationMACVerify }

// macKey opens a MAC key and resolves the MAC the parameters name.
func (s *Service) macKey(ctx context.Context, rc *reqCtx, id string, use keyUse, params *kmip.CryptographicParameters) (*cryptoKey, []byte, cryptoalg.MACSpec, error) {
	k, err := s.usableFor(ctx, rc, id, use, kmip.CryptographicUsageMACGenerate|kmip.CryptographicUsageMACVerify, kmip.ObjectTypeSymmetricKey)
	if err != nil {
		return nil, nil, cryptoalg.MACSpec{}, err
	}
	bit := kmip.CryptographicUsageMACGenerate
	if use == process {
		bit = kmip.CryptographicUsageMACVerify
	}
	mask, _ := k.o.Attr(kmip.AttributeNameCryptographicUsageMask)
	if usage, _ := mask.(kmip.CryptographicUsageMask); usage&bit == 0 {
		k.close()
		return nil, nil, cryptoalg.MACSpec{}, errorf(kmip.ResultReasonPermissionDenied, "the key's Cryptographic Usage Mask does not allow this operation")
	}
	key, err := k.symmetricBytes()
	if err != nil {
		k.close()
		return nil, nil, cryptoalg.MACSpec{}, err
	}
	alg, _ := k.algorithm()
	spec, err := cryptoalg.ResolveMAC(cryptoParams(params, k.o), alg, len(key))
	if err != nil {
		k.close()
		return nil, nil, cryptoalg.MACSpec{}, cryptoError(err)
	}
	return k, key, spec, nil
}

func (s *Service) mac(ctx context.Context, rc *reqCtx, req *MACRequestPayload) (*MACResponsePayload, error) {
	if err := checkData(req.Data, true, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	k, key, spec, err := s.macKey(ctx, rc, req.UniqueIdentifier, protect, req.CryptographicParameters)
	if err != nil {
		return nil, err
	}
	defer k.close()
	if err := s.usage.claim(ctx, k.o, len(req.Data)); err != nil {
		return nil, err
	}
	out, err := cryptoalg.ComputeMAC(spec, key, req.Data)
	if err != nil {
		return nil, cryptoError(err)
	}
	rc.placeholder = k.o.ID
	return &MACResponsePayload{UniqueIdentifier: k.o.ID, MACData: out}, nil
}

func (s *Service) macVerify(ctx context.Context, rc *reqCtx, req *MACVerifyRequestPayload) (*MACVerifyResponsePayload, error) {
	if err := checkData(req.Data, true, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	if len(req.MACData) == 0 || len(req.MACData) > maxCryptoData {
		return nil, errorf(kmip.ResultReasonInvalidField, "MAC Data is required")
	}
	k, key, spec, err := s.macKey(ctx, rc, req.UniqueIdentifier, process, req.CryptographicParameters)
	if err != nil {
		return nil, err
	}
	defer k.close()
	resp := &MACVerifyResponsePayload{UniqueIdentifier: k.o.ID, ValidityIndicator: kmip.ValidityIndicatorValid}
	switch err := cryptoalg.VerifyMAC(spec, key, req.Data, req.MACData); {
	case errors.Is(err, cryptoalg.ErrAuthentication):
		resp.ValidityIndicator = kmip.ValidityIndicatorInvalid
	case err != nil:
		return nil, cryptoError(err)
	}
	rc.placeholder = k.o.ID
	return resp, nil
}
