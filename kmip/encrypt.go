package kmip

import (
	"context"
	"crypto/rsa"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/cryptoalg"
	"github.com/kmsd/kmsd/kmip/keyformat"
)

// Encrypt and Decrypt (KMIP 1.2 §4.29, §4.30): with a Symmetric Key (AES,
// Triple DES, ChaCha20-Poly1305 in the modes cryptoalg offers) or with an
// RSA key pair (a Public Key encrypts, its Private Key decrypts).
func init() {
	registerRoute(kmip.OperationEncrypt, kmip.V1_2, func(s *Service) handler { return handle(s.encrypt) })
	registerRoute(kmip.OperationDecrypt, kmip.V1_2, func(s *Service) handler { return handle(s.decrypt) })
}

var (
	errNoData     = errorf(kmip.ResultReasonInvalidField, "Data is required")
	errDataLength = errorf(kmip.ResultReasonInvalidField, "Data is longer than the %d bytes one request may carry", maxCryptoData)
	errStreaming  = errorf(kmip.ResultReasonFeatureNotSupported, "multi-part (streaming) operations are not supported: send the data in one request without Correlation Value, Init Indicator or Final Indicator")
	errNotRSA     = errorf(kmip.ResultReasonFeatureNotSupported, "asymmetric encryption is supported with RSA keys only")
)

// checkData bounds a request's data and refuses the streaming fields,
// which Query Capabilities reports as unsupported. Encrypt and Decrypt
// accept empty data: with an authenticated mode the tag still covers the
// Additional Data (OASIS CS-BC-M-GCM-2-14's recordings do this).
func checkData(data []byte, needed bool, correlation []byte, init, final *bool) error {
	if len(correlation) > 0 || init != nil || final != nil {
		return errStreaming
	}
	if needed && len(data) == 0 {
		return errNoData
	}
	if len(data) > maxCryptoData {
		return errDataLength
	}
	return nil
}

func (s *Service) encrypt(ctx context.Context, rc *reqCtx, req *payloads.EncryptRequestPayload) (*payloads.EncryptResponsePayload, error) {
	if err := checkData(req.Data, false, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	k, err := s.usableFor(ctx, rc, req.UniqueIdentifier, protect, kmip.CryptographicUsageEncrypt, kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePublicKey)
	if err != nil {
		return nil, err
	}
	defer k.close()
	params := cryptoParams(req.CryptographicParameters, k.o)
	resp := &payloads.EncryptResponsePayload{UniqueIdentifier: k.o.ID}
	if k.o.ObjectType() == kmip.ObjectTypePublicKey {
		pub, spec, err := rsaEncryptionKey(k, params)
		if err != nil {
			return nil, err
		}
		if err := s.usage.claim(ctx, k.o, len(req.Data)); err != nil {
			return nil, err
		}
		if resp.Data, err = cryptoalg.RSAEncrypt(spec, pub, req.Data); err != nil {
			return nil, cryptoError(err)
		}
		rc.placeholder = k.o.ID
		return resp, nil
	}
	key, spec, err := symmetricCipher(k, params)
	if err != nil {
		return nil, err
	}
	if err := s.usage.claim(ctx, k.o, len(req.Data)); err != nil {
		return nil, err
	}
	out, iv, tag, err := cryptoalg.Encrypt(spec, key, req.IVCounterNonce, req.AuthenticatedEncryptionAdditionalData, req.Data)
	if err != nil {
		return nil, cryptoError(err)
	}
	resp.Data = out
	if len(req.IVCounterNonce) == 0 {
		resp.IVCounterNonce = iv
	}
	// Before 1.4 a response has no Authenticated Encryption Tag field; the
	// tag follows the ciphertext, as GCM's own output does.
	if before(rc.version, kmip.V1_4) {
		resp.Data = append(resp.Data, tag...)
	} else {
		resp.AuthenticatedEncryptionTag = tag
	}
	rc.placeholder = k.o.ID
	return resp, nil
}

func (s *Service) decrypt(ctx context.Context, rc *reqCtx, req *payloads.DecryptRequestPayload) (*payloads.DecryptResponsePayload, error) {
	if err := checkData(req.Data, false, req.CorrelationValue, req.InitIndicator, req.FinalIndicator); err != nil {
		return nil, err
	}
	k, err := s.usableFor(ctx, rc, req.UniqueIdentifier, process, kmip.CryptographicUsageDecrypt, kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePrivateKey)
	if err != nil {
		return nil, err
	}
	defer k.close()
	params := cryptoParams(req.CryptographicParameters, k.o)
	resp := &payloads.DecryptResponsePayload{UniqueIdentifier: k.o.ID}
	if k.o.ObjectType() == kmip.ObjectTypePrivateKey {
		signer, err := keyformat.ParsePrivateKey(k.kb)
		priv, isRSA := signer.(*rsa.PrivateKey)
		if err != nil || !isRSA {
			return nil, errNotRSA
		}
		spec, err := cryptoalg.ResolveRSACipher(params)
		if err != nil {
			return nil, cryptoError(err)
		}
		if resp.Data, err = cryptoalg.RSADecrypt(spec, priv, req.Data); err != nil {
			return nil, cryptoError(err)
		}
		rc.placeholder = k.o.ID
		return resp, nil
	}
	key, spec, err := symmetricCipher(k, params)
	if err != nil {
		return nil, err
	}
	data, tag := req.Data, req.AuthenticatedEncryptionTag
	if spec.AEAD() && before(rc.version, kmip.V1_4) {
		if len(data) < spec.TagLength {
			return nil, errorf(kmip.ResultReasonCryptographicFailure, "Data is shorter than the authentication tag it must end with")
		}
		data, tag = data[:len(data)-spec.TagLength], data[len(data)-spec.TagLength:]
	}
	if resp.Data, err = cryptoalg.Decrypt(spec, key, req.IVCounterNonce, req.AuthenticatedEncryptionAdditionalData, data, tag); err != nil {
		return nil, cryptoError(err)
	}
	rc.placeholder = k.o.ID
	return resp, nil
}

// symmetricCipher returns a symmetric key's bytes and the cipher the
// parameters name for it.
func symmetricCipher(k *cryptoKey, params *kmip.CryptographicParameters) ([]byte, cryptoalg.CipherSpec, error) {
	key, err := k.symmetricBytes()
	if err != nil {
		return nil, cryptoalg.CipherSpec{}, err
	}
	alg, _ := k.algorithm()
	spec, err := cryptoalg.ResolveCipher(params, alg, len(key))
	if err != nil {
		return nil, cryptoalg.CipherSpec{}, cryptoError(err)
	}
	return key, spec, nil
}

// rsaEncryptionKey parses an RSA public key and the padding the
// parameters name.
func rsaEncryptionKey(k *cryptoKey, params *kmip.CryptographicParameters) (*rsa.PublicKey, cryptoalg.RSACipherSpec, error) {
	key, err := keyformat.ParsePublicKey(k.kb)
	pub, isRSA := key.(*rsa.PublicKey)
	if err != nil || !isRSA {
		return nil, cryptoalg.RSACipherSpec{}, errNotRSA
	}
	spec, err := cryptoalg.ResolveRSACipher(params)
	if err != nil {
		return nil, cryptoalg.RSACipherSpec{}, cryptoError(err)
	}
	return pub, spec, nil
}
