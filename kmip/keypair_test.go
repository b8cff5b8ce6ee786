package kmip_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func createKeyPair(common, priv, pub []kmip.Attribute) *payloads.CreateKeyPairRequestPayload {
	req := &payloads.CreateKeyPairRequestPayload{}
	if common != nil {
		req.CommonTemplateAttribute = &kmip.TemplateAttribute{Attribute: common}
	}
	if priv != nil {
		req.PrivateKeyTemplateAttribute = &kmip.TemplateAttribute{Attribute: priv}
	}
	if pub != nil {
		req.PublicKeyTemplateAttribute = &kmip.TemplateAttribute{Attribute: pub}
	}
	return req
}

// pair creates a key pair as alice and returns the private and public ids.
func pair(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, req *payloads.CreateKeyPairRequestPayload) (string, string) {
	t.Helper()
	resp := ok[*payloads.CreateKeyPairResponsePayload](t, do(t, f, v, req))
	if resp.PrivateKeyUniqueIdentifier == "" || resp.PublicKeyUniqueIdentifier == "" || resp.PrivateKeyUniqueIdentifier == resp.PublicKeyUniqueIdentifier {
		t.Fatalf("Create Key Pair answered %+v", resp)
	}
	return resp.PrivateKeyUniqueIdentifier, resp.PublicKeyUniqueIdentifier
}

func algLen(alg kmip.CryptographicAlgorithm, bits int32) []kmip.Attribute {
	return []kmip.Attribute{
		attr(kmip.AttributeNameCryptographicAlgorithm, alg),
		attr(kmip.AttributeNameCryptographicLength, bits),
	}
}

func curveParam(c kmip.RecommendedCurve) kmip.Attribute {
	return attr(kmip.AttributeNameCryptographicDomainParameters, kmip.CryptographicDomainParameters{RecommendedCurve: c})
}

func TestCreateKeyPair(t *testing.T) {
	tests := []struct {
		name       string
		v          kmip.ProtocolVersion
		common     []kmip.Attribute
		alg        kmip.CryptographicAlgorithm
		bits       int32
		curve      elliptic.Curve // nil for RSA
		privFormat kmip.KeyFormatType
		pubFormat  kmip.KeyFormatType
	}{
		{"RSA-1024 v1.0", kmip.V1_0, algLen(kmip.CryptographicAlgorithmRSA, 1024), kmip.CryptographicAlgorithmRSA, 1024, nil, kmip.KeyFormatTypePKCS_1, kmip.KeyFormatTypePKCS_1},
		{"RSA-2048 v1.4", kmip.V1_4, algLen(kmip.CryptographicAlgorithmRSA, 2048), kmip.CryptographicAlgorithmRSA, 2048, nil, kmip.KeyFormatTypePKCS_1, kmip.KeyFormatTypePKCS_1},
		{"ECDSA P-224 by length v1.0", kmip.V1_0, algLen(kmip.CryptographicAlgorithmECDSA, 224), kmip.CryptographicAlgorithmECDSA, 224, elliptic.P224(), kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509},
		{"ECDSA P-256 by curve v1.2", kmip.V1_2, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmECDSA), curveParam(kmip.RecommendedCurveP_256)}, kmip.CryptographicAlgorithmECDSA, 256, elliptic.P256(), kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509},
		{"EC P-384 by length v1.3", kmip.V1_3, algLen(kmip.CryptographicAlgorithmEC, 384), kmip.CryptographicAlgorithmEC, 384, elliptic.P384(), kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509},
		{"EC P-521 by curve and length v1.4", kmip.V1_4, append(algLen(kmip.CryptographicAlgorithmEC, 521), curveParam(kmip.RecommendedCurveP_521)), kmip.CryptographicAlgorithmEC, 521, elliptic.P521(), kmip.KeyFormatTypePKCS_8, kmip.KeyFormatTypeX_509},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			privID, pubID := pair(t, f, tt.v, createKeyPair(tt.common, nil, nil))
			if n := f.Replicator.Applied(); n != 1 {
				t.Errorf("Create Key Pair proposed %d commands, want 1 for both halves", n)
			}
			privKB := getKey(t, f, tt.v, privID, 0)
			pubKB := getKey(t, f, tt.v, pubID, 0)
			for _, c := range []struct {
				kb     *kmip.KeyBlock
				format kmip.KeyFormatType
			}{{privKB, tt.privFormat}, {pubKB, tt.pubFormat}} {
				if c.kb.KeyFormatType != c.format || c.kb.CryptographicAlgorithm != tt.alg || c.kb.CryptographicLength != tt.bits {
					t.Errorf("key block %v %v/%d, want %v %v/%d", c.kb.KeyFormatType, c.kb.CryptographicAlgorithm, c.kb.CryptographicLength, c.format, tt.alg, tt.bits)
				}
				if len(c.kb.KeyValue.Plain.Attribute) != 0 {
					t.Error("the Key Value carries attributes")
				}
			}
			priv, pub := parseGenerated(t, privKB, pubKB)
			switch k := priv.(type) {
			case *rsa.PrivateKey:
				if tt.curve != nil || k.N.BitLen() != int(tt.bits) || !k.PublicKey.Equal(pub) {
					t.Errorf("RSA key of %d bits, public half matches: %v", k.N.BitLen(), k.PublicKey.Equal(pub))
				}
			case *ecdsa.PrivateKey:
				if k.Curve != tt.curve || !k.PublicKey.Equal(pub) {
					t.Errorf("EC key on %s, public half matches: %v", k.Curve.Params().Name, k.PublicKey.Equal(pub))
				}
			}
			checkPairAttrs(t, f, tt.v, privID, pubID, privKB, pubKB)
		})
	}
}

func parseGenerated(t *testing.T, privKB, pubKB *kmip.KeyBlock) (any, any) {
	t.Helper()
	privDER, _ := privKB.GetBytes()
	pubDER, _ := pubKB.GetBytes()
	var priv, pub any
	var err, err2 error
	if privKB.KeyFormatType == kmip.KeyFormatTypePKCS_1 {
		priv, err = x509.ParsePKCS1PrivateKey(privDER)
		pub, err2 = x509.ParsePKCS1PublicKey(pubDER)
	} else {
		priv, err = x509.ParsePKCS8PrivateKey(privDER)
		pub, err2 = x509.ParsePKIXPublicKey(pubDER)
	}
	if err != nil || err2 != nil {
		t.Fatalf("generated keys do not parse: %v, %v", err, err2)
	}
	return priv, pub
}

// checkPairAttrs verifies the links, the default usage masks and the
// digests of a generated pair.
func checkPairAttrs(t *testing.T, f *kmiptest.Fixture, v kmip.ProtocolVersion, privID, pubID string, privKB, pubKB *kmip.KeyBlock) {
	t.Helper()
	for _, h := range []struct {
		id, other string
		link      kmip.LinkType
		usage     kmip.CryptographicUsageMask
		kb        *kmip.KeyBlock
	}{
		{privID, pubID, kmip.LinkTypePublicKeyLink, kmip.CryptographicUsageSign, privKB},
		{pubID, privID, kmip.LinkTypePrivateKeyLink, kmip.CryptographicUsageVerify, pubKB},
	} {
		attrs := getAttrs(t, f, v, h.id)
		if l, _ := value(attrs, kmip.AttributeNameLink); l != (kmip.Link{LinkType: h.link, LinkedObjectIdentifier: h.other}) {
			t.Errorf("%s: Link = %+v", h.id, l)
		}
		if u, _ := value(attrs, kmip.AttributeNameCryptographicUsageMask); u != h.usage {
			t.Errorf("%s: Cryptographic Usage Mask = %v, want %v", h.id, u, h.usage)
		}
		if s, _ := value(attrs, kmip.AttributeNameState); s != kmip.StatePreActive {
			t.Errorf("%s: State = %v", h.id, s)
		}
		d, found := value(attrs, kmip.AttributeNameDigest)
		b, _ := h.kb.GetBytes()
		sum := sha256.Sum256(b)
		if dv, isDigest := d.(kmip.Digest); !found || !isDigest || !bytes.Equal(dv.DigestValue, sum[:]) {
			t.Errorf("%s: Digest = %+v, want SHA-256 over the stored key", h.id, d)
		}
		if h.kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmRSA {
			if dp, _ := value(attrs, kmip.AttributeNameCryptographicDomainParameters); dp == nil {
				t.Errorf("%s: an EC key has no Cryptographic Domain Parameters", h.id)
			}
		}
	}
}

// TestCreateKeyPairTemplates: attributes of a half's own Template-Attribute
// take precedence over the common ones (KMIP 1.4 §4.2).
func TestCreateKeyPairTemplates(t *testing.T) {
	f := kmiptest.New(t)
	common := append(algLen(kmip.CryptographicAlgorithmRSA, 1024),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageSign|kmip.CryptographicUsageVerify),
		attr(kmip.AttributeNameObjectGroup, "pairs"),
		attr(kmip.AttributeNameContactInformation, "ops"))
	priv := []kmip.Attribute{
		name("signer"),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageSign|kmip.CryptographicUsageDecrypt),
		attr(kmip.AttributeNameObjectGroup, "private"),
	}
	pub := []kmip.Attribute{name("verifier"), attr(kmip.AttributeNameContactInformation, "pki")}
	privID, pubID := pair(t, f, kmip.V1_4, createKeyPair(common, priv, pub))

	pa := getAttrs(t, f, kmip.V1_4, privID)
	if u, _ := value(pa, kmip.AttributeNameCryptographicUsageMask); u != kmip.CryptographicUsageSign|kmip.CryptographicUsageDecrypt {
		t.Errorf("private usage mask = %v, want the private template's", u)
	}
	if groups := valuesOf(pa, kmip.AttributeNameObjectGroup); len(groups) != 2 {
		t.Errorf("private Object Groups = %v, want the common and the private one", groups)
	}
	if c, _ := value(pa, kmip.AttributeNameContactInformation); c != "ops" {
		t.Errorf("private Contact Information = %v, want the common one", c)
	}
	ua := getAttrs(t, f, kmip.V1_4, pubID)
	if u, _ := value(ua, kmip.AttributeNameCryptographicUsageMask); u != kmip.CryptographicUsageSign|kmip.CryptographicUsageVerify {
		t.Errorf("public usage mask = %v, want the common one", u)
	}
	if c, _ := value(ua, kmip.AttributeNameContactInformation); c != "pki" {
		t.Errorf("public Contact Information = %v, want the public template's", c)
	}
	if n, _ := value(ua, kmip.AttributeNameName); n.(kmip.Name).NameValue != "verifier" {
		t.Errorf("public Name = %v", n)
	}
}

func valuesOf(attrs []kmip.Attribute, n kmip.AttributeName) []any {
	var out []any
	for _, a := range attrs {
		if a.AttributeName == n {
			out = append(out, a.AttributeValue)
		}
	}
	return out
}

// TestCreateKeyPairPlaceholder: the ID Placeholder is the private key
// (KMIP 1.4 §4.2), so a batch can activate it without knowing its id.
func TestCreateKeyPairPlaceholder(t *testing.T) {
	f := kmiptest.New(t)
	items := exec(t, f, alice, kmip.V1_4,
		createKeyPair(algLen(kmip.CryptographicAlgorithmECDSA, 256), nil, nil),
		&payloads.ActivateRequestPayload{},
		&payloads.GetRequestPayload{})
	resp := ok[*payloads.CreateKeyPairResponsePayload](t, items[0])
	if id := ok[*payloads.ActivateResponsePayload](t, items[1]).UniqueIdentifier; id != resp.PrivateKeyUniqueIdentifier {
		t.Errorf("Activate acted on %s, want the private key %s", id, resp.PrivateKeyUniqueIdentifier)
	}
	if got := ok[*payloads.GetResponsePayload](t, items[2]); got.ObjectType != kmip.ObjectTypePrivateKey {
		t.Errorf("Get returned a %v", got.ObjectType)
	}
	if s := state(t, f, kmip.V1_4, resp.PublicKeyUniqueIdentifier); s != kmip.StatePreActive {
		t.Errorf("public key State = %v, want Pre-Active", s)
	}
}

func TestCreateKeyPairRejects(t *testing.T) {
	rsa1024 := algLen(kmip.CryptographicAlgorithmRSA, 1024)
	tests := []struct {
		name             string
		v                kmip.ProtocolVersion
		common, priv, pb []kmip.Attribute
		want             []kmip.ResultReason
	}{
		{"no algorithm", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(2048))}, nil, nil, invalidField},
		{"symmetric algorithm", kmip.V1_4, algLen(kmip.CryptographicAlgorithmAES, 256), nil, nil, invalidField},
		{"DSA", kmip.V1_4, algLen(kmip.CryptographicAlgorithmDSA, 2048), nil, nil, invalidField},
		{"RSA-512", kmip.V1_4, algLen(kmip.CryptographicAlgorithmRSA, 512), nil, nil, invalidField},
		{"RSA-8192", kmip.V1_4, algLen(kmip.CryptographicAlgorithmRSA, 8192), nil, nil, invalidField},
		{"RSA-2049", kmip.V1_4, algLen(kmip.CryptographicAlgorithmRSA, 2049), nil, nil, invalidField},
		{"RSA without length", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA)}, nil, nil, invalidField},
		{"RSA with a curve", kmip.V1_4, append(algLen(kmip.CryptographicAlgorithmRSA, 2048), curveParam(kmip.RecommendedCurveP_256)), nil, nil, invalidField},
		{"EC without curve", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmEC)}, nil, nil, invalidField},
		{"EC curve and length differ", kmip.V1_4, append(algLen(kmip.CryptographicAlgorithmEC, 384), curveParam(kmip.RecommendedCurveP_256)), nil, nil, invalidField},
		{"EC unsupported curve", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmEC), curveParam(kmip.RecommendedCurveP_192)}, nil, nil, invalidField},
		{"EC 255 bits", kmip.V1_4, algLen(kmip.CryptographicAlgorithmEC, 255), nil, nil, invalidField},
		{"EC in KMIP 1.2", kmip.V1_2, algLen(kmip.CryptographicAlgorithmEC, 256), nil, nil, invalidField},
		{"halves of different lengths", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA)},
			[]kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(1024))}, []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(2048))}, invalidField},
		{"halves of different algorithms", kmip.V1_4, []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(256))},
			[]kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmECDSA)}, []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA)}, invalidField},
		{"client links the halves", kmip.V1_4, rsa1024, []kmip.Attribute{attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePublicKeyLink, LinkedObjectIdentifier: "x"})}, nil, invalidField},
		{"server-set attribute", kmip.V1_4, rsa1024, nil, []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateActive)}, permissionDenied},
		{"attribute of a later version", kmip.V1_0, rsa1024, []kmip.Attribute{attr(kmip.AttributeNameSensitive, true)}, nil, invalidField},
		{"attribute twice in one template", kmip.V1_4, append(rsa1024, attr(kmip.AttributeNameCryptographicLength, int32(2048))), nil, nil, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			fails(t, do(t, f, tt.v, createKeyPair(tt.common, tt.priv, tt.pb)), tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Create Key Pair proposed %d commands", n)
			}
		})
	}
}

// TestCreateKeyPairTenants: each half belongs to the client that made it.
func TestCreateKeyPairTenants(t *testing.T) {
	f := kmiptest.New(t)
	privID, pubID := pair(t, f, kmip.V1_4, createKeyPair(algLen(kmip.CryptographicAlgorithmECDSA, 256), nil, nil))
	for _, id := range []string{privID, pubID} {
		bi := exec(t, f, bob, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})[0]
		fails(t, bi, kmip.ResultReasonItemNotFound)
	}
}
