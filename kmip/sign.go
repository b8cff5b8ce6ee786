package kmip

import (
	"context"
	"errors"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/cryptoalg"
	"github.com/kmsd/kmsd/kmip/keyformat"
)

// Sign and Signature Verify (KMIP 1.2 §4.31, §4.32): RSA PKCS#1 v1.5 and
// PSS, ECDSA and Ed25519, over Data or, from 1.4, over Digested Data.
func init() {
	registerRoute(kmip.OperationSign, kmip.V1_2, func(s *Service) handler { return handle(s.sign) })
	registerRoute(kmip.OperationSignatureVerify, kmip.V1_2, func(s *Service) handler { return handle(s.signatureVerify) })
}

var errDataOrDigest = errorf(kmip.ResultReasonInvalidField, "give either Data or Digested Data, not both")

// signedInput checks that exactly one of data and digest is given.
func signedInput(data, digest, correlation []byte, init, final *bool) error {
	if len(data) > 0 && len(digest) > 0 {
		return errDataOrDigest
	}
	if len(digest) > 0 {
		data = digest
	}
	return checkData(data, true, correlation, init, final)
}

func (s *Service) sign(ctx context.Context, rc *reqCtx, req *payloads.SignRequestPayload) (*payloads.SignResponsePayload, error) {
	if err := signedInput(req.Data, req.DigestedData, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	k, err := s.usableFor(ctx, rc, req.UniqueIdentifier, protect, kmip.CryptographicUsageSign, kmip.ObjectTypePrivateKey)
	if err != nil {
		return nil, err
	}
	defer k.close()
	key, err := keyformat.ParsePrivateKey(k.kb)
	if err != nil {
		return nil, errorf(kmip.ResultReasonFeatureNotSupported, "the private key cannot be used for signing here")
	}
	spec, err := cryptoalg.ResolveSignature(cryptoParams(req.CryptographicParameters, k.o), key)
	if err != nil {
		return nil, cryptoError(err)
	}
	if err := s.usage.claim(ctx, k.o, len(req.Data)+len(req.DigestedData)); err != nil {
		return nil, err
	}
	var sig []byte
	if len(req.DigestedData) > 0 {
		sig, err = cryptoalg.SignDigest(spec, key, req.DigestedData)
	} else {
		sig, err = cryptoalg.Sign(spec, key, req.Data)
	}
	if err != nil {
		return nil, cryptoError(err)
	}
	rc.placeholder = k.o.ID
	return &payloads.SignResponsePayload{UniqueIdentifier: k.o.ID, SignatureData: sig}, nil
}

func (s *Service) signatureVerify(ctx context.Context, rc *reqCtx, req *payloads.SignatureVerifyRequestPayload) (*payloads.SignatureVerifyResponsePayload, error) {
	if err := signedInput(req.Data, req.DigestedData, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	if len(req.SignatureData) == 0 || len(req.SignatureData) > maxCryptoData {
		return nil, errorf(kmip.ResultReasonInvalidField, "Signature Data is required")
	}
	k, err := s.usableFor(ctx, rc, req.UniqueIdentifier, process, kmip.CryptographicUsageVerify, kmip.ObjectTypePublicKey)
	if err != nil {
		return nil, err
	}
	defer k.close()
	key, err := keyformat.ParsePublicKey(k.kb)
	if err != nil {
		return nil, errorf(kmip.ResultReasonFeatureNotSupported, "the public key cannot be used for verification here")
	}
	spec, err := cryptoalg.ResolveSignature(cryptoParams(req.CryptographicParameters, k.o), key)
	if err != nil {
		return nil, cryptoError(err)
	}
	if len(req.DigestedData) > 0 {
		err = cryptoalg.VerifyDigest(spec, key, req.DigestedData, req.SignatureData)
	} else {
		err = cryptoalg.Verify(spec, key, req.Data, req.SignatureData)
	}
	resp := &payloads.SignatureVerifyResponsePayload{UniqueIdentifier: k.o.ID, ValidityIndicator: kmip.ValidityIndicatorValid}
	switch {
	case errors.Is(err, cryptoalg.ErrAuthentication):
		resp.ValidityIndicator = kmip.ValidityIndicatorInvalid
	case err != nil:
		return nil, cryptoError(err)
	}
	rc.placeholder = k.o.ID
	return resp, nil
}
