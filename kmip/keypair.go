package kmip

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"slices"

	"github.com/google/uuid"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/keyformat"
)

func init() {
	registerRoute(kmip.OperationCreateKeyPair, kmip.V1_0, func(s *Service) handler { return handle(s.createKeyPair) })
}

// maxRSACreateBits bounds generated RSA keys: larger ones take seconds of
// CPU per request.
const maxRSACreateBits = 4096

// Default usage masks of generated halves when the client gives none: the
// private key signs, the public key verifies.
const (
	defaultPrivateUsage = kmip.CryptographicUsageSign
	defaultPublicUsage  = kmip.CryptographicUsageVerify
)

// keyPairSpec is the key pair a client asked for.
type keyPairSpec struct {
	alg   kmip.CryptographicAlgorithm
	bits  int32
	curve keyformat.Curve // EC only
}

// createKeyPair generates an RSA or EC key pair and stores both halves in
// one command, linked to each other (KMIP 1.4 §4.2). The ID Placeholder is
// the private key's id.
func (s *Service) createKeyPair(ctx context.Context, rc *reqCtx, req *payloads.CreateKeyPairRequestPayload) (*payloads.CreateKeyPairResponsePayload, error) {
	privAttrs, pubAttrs, err := s.keyPairAttrs(rc, req)
	if err != nil {
		return nil, err
	}
	spec, err := keyPairSpecOf(rc.version, privAttrs, pubAttrs)
	if err != nil {
		return nil, err
	}
	key, err := spec.generate()
	if err != nil {
		return nil, err
	}
	priv, pub, err := spec.objects(key)
	if err != nil {
		return nil, err
	}
	defer clear(*priv.KeyBlock.KeyValue.Plain.KeyMaterial.Bytes)

	privID, pubID := uuid.NewString(), uuid.NewString()
	privAttrs = append(privAttrs,
		kmip.Attribute{AttributeName: kmip.AttributeNameLink, AttributeValue: kmip.Link{LinkType: kmip.LinkTypePublicKeyLink, LinkedObjectIdentifier: pubID}},
		kmip.Attribute{AttributeName: kmip.AttributeNameRandomNumberGenerator, AttributeValue: serverRNG})
	pubAttrs = append(pubAttrs,
		kmip.Attribute{AttributeName: kmip.AttributeNameLink, AttributeValue: kmip.Link{LinkType: kmip.LinkTypePrivateKeyLink, LinkedObjectIdentifier: privID}},
		kmip.Attribute{AttributeName: kmip.AttributeNameRandomNumberGenerator, AttributeValue: serverRNG})
	if !hasAttr(privAttrs, kmip.AttributeNameCryptographicUsageMask) {
		privAttrs = append(privAttrs, kmip.Attribute{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: defaultPrivateUsage})
	}
	if !hasAttr(pubAttrs, kmip.AttributeNameCryptographicUsageMask) {
		pubAttrs = append(pubAttrs, kmip.Attribute{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: defaultPublicUsage})
	}
	if err := s.storeObjects(ctx, rc, true, pendingObject{privID, priv, privAttrs}, pendingObject{pubID, pub, pubAttrs}); err != nil {
		return nil, err
	}
	rc.placeholder = privID
	return &payloads.CreateKeyPairResponsePayload{PrivateKeyUniqueIdentifier: privID, PublicKeyUniqueIdentifier: pubID}, nil
}

// keyPairAttrs merges the Common Template-Attribute into each half's own:
// "attributes in the Private Key Template-Attribute [and Public Key
// Template-Attribute] take precedence" (KMIP 1.4 §4.2). A single-instance
// attribute given for a half replaces the common one; instances of
// multi-instance attributes accumulate.
func (s *Service) keyPairAttrs(rc *reqCtx, req *payloads.CreateKeyPairRequestPayload) (priv, pub []kmip.Attribute, err error) {
	var parts [3][]kmip.Attribute
	for i, t := range []*kmip.TemplateAttribute{req.CommonTemplateAttribute, req.PrivateKeyTemplateAttribute, req.PublicKeyTemplateAttribute} {
		if t == nil {
			continue
		}
		if parts[i], err = s.templateAttrs(rc, *t); err != nil {
			return nil, nil, err
		}
		for _, a := range parts[i] {
			if l, ok := a.AttributeValue.(kmip.Link); ok && a.AttributeName == kmip.AttributeNameLink &&
				(l.LinkType == kmip.LinkTypePublicKeyLink || l.LinkType == kmip.LinkTypePrivateKeyLink) {
				return nil, nil, errorf(kmip.ResultReasonInvalidField, "the server links the halves of a key pair itself")
			}
		}
	}
	return overlayAttrs(parts[0], parts[1]), overlayAttrs(parts[0], parts[2]), nil
}

func overlayAttrs(common, specific []kmip.Attribute) []kmip.Attribute {
	out := slices.Clone(common)
	for _, a := range specific {
		if !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].Multi {
			out = withoutName(out, a.AttributeName)
		}
	}
	return append(out, specific...)
}

// pairValue returns the value both halves were given; a half without one
// takes the other's.
func pairValue[T comparable](priv, pub []kmip.Attribute, name kmip.AttributeName) (T, error) {
	a, _ := attrValue[T](priv, name)
	b, _ := attrValue[T](pub, name)
	var zero T
	if a != zero && b != zero && a != b {
		return zero, errorf(kmip.ResultReasonInvalidField, "%s differs between the private and the public key", name)
	}
	if a == zero {
		return b, nil
	}
	return a, nil
}

// keyPairSpecOf reads the algorithm and size of the pair: RSA with a
// Cryptographic Length (the modulus size) of 1024 to 4096 bits, or an EC
// curve named by Cryptographic Domain Parameters' Recommended Curve or by
// its Cryptographic Length.
func keyPairSpecOf(v kmip.ProtocolVersion, priv, pub []kmip.Attribute) (keyPairSpec, error) {
	alg, err := pairValue[kmip.CryptographicAlgorithm](priv, pub, kmip.AttributeNameCryptographicAlgorithm)
	if err != nil {
		return keyPairSpec{}, err
	}
	bits, err := pairValue[int32](priv, pub, kmip.AttributeNameCryptographicLength)
	if err != nil {
		return keyPairSpec{}, err
	}
	dp, err := pairValue[kmip.CryptographicDomainParameters](priv, pub, kmip.AttributeNameCryptographicDomainParameters)
	if err != nil {
		return keyPairSpec{}, err
	}
	spec := keyPairSpec{alg: alg, bits: bits}
	switch {
	case alg == kmip.CryptographicAlgorithmRSA:
		if bits < keyformat.MinRSABits || bits > maxRSACreateBits || bits%8 != 0 {
			return keyPairSpec{}, errorf(kmip.ResultReasonInvalidField, "Cryptographic Length of an RSA key pair must be a multiple of 8 from %d to %d", keyformat.MinRSABits, maxRSACreateBits)
		}
		if dp.RecommendedCurve != 0 {
			return keyPairSpec{}, errorf(kmip.ResultReasonInvalidField, "an RSA key pair has no Recommended Curve")
		}
		return spec, nil
	case alg == kmip.CryptographicAlgorithmEC && ttlv.CompareVersions(v, kmip.V1_3) < 0:
		return keyPairSpec{}, errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm EC is defined from KMIP 1.3; earlier versions name EC keys ECDSA")
	case keyformat.IsEC(alg):
		c, ok := keyformat.CurveWhere(func(c keyformat.Curve) bool {
			return (dp.RecommendedCurve == 0 || c.ID == dp.RecommendedCurve) && (bits == 0 || c.Bits == bits)
		})
		if !ok || (dp.RecommendedCurve == 0 && bits == 0) {
			return keyPairSpec{}, errorf(kmip.ResultReasonInvalidField, "the curve of an EC key pair must be P-224, P-256, P-384 or P-521, named by Recommended Curve or Cryptographic Length")
		}
		spec.bits, spec.curve = c.Bits, c
		return spec, nil
	}
	return keyPairSpec{}, errorf(kmip.ResultReasonInvalidField, "Cryptographic Algorithm missing or not supported for key pairs: RSA and EC are")
}

func (spec keyPairSpec) generate() (crypto.Signer, error) {
	if spec.alg == kmip.CryptographicAlgorithmRSA {
		return rsa.GenerateKey(rand.Reader, int(spec.bits))
	}
	return ecdsa.GenerateKey(spec.curve.Curve, rand.Reader)
}

// objects encodes the generated halves in their stored formats.
func (spec keyPairSpec) objects(key crypto.Signer) (*kmip.PrivateKey, *kmip.PublicKey, error) {
	privFormat, pubFormat := kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509
	if spec.alg == kmip.CryptographicAlgorithmRSA {
		privFormat, pubFormat = kmip.KeyFormatTypePKCS_1, kmip.KeyFormatTypePKCS_1
	}
	privKM, err := keyformat.EncodePrivateKey(key, privFormat)
	if err != nil {
		return nil, nil, err
	}
	pubKM, err := keyformat.EncodePublicKey(key.Public(), pubFormat)
	if err != nil {
		return nil, nil, err
	}
	block := func(f kmip.KeyFormatType, km kmip.KeyMaterial) kmip.KeyBlock {
		return kmip.KeyBlock{
			KeyFormatType:          f,
			KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: km}},
			CryptographicAlgorithm: spec.alg,
			CryptographicLength:    spec.bits,
		}
	}
	return &kmip.PrivateKey{KeyBlock: block(privFormat, privKM)}, &kmip.PublicKey{KeyBlock: block(pubFormat, pubKM)}, nil
}
