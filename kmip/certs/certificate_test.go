package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/certs"
	"github.com/kmsd/kmsd/kmip/kmiperr"
)

func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234),
		Subject:      pkix.Name{CommonName: "subject", Organization: []string{"O"}},
		DNSNames:     []string{"kms.example"},
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_800_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func attr(attrs []kmip.Attribute, name kmip.AttributeName) (any, bool) {
	for _, a := range attrs {
		if a.AttributeName == name {
			return a.AttributeValue, true
		}
	}
	return nil, false
}

func TestDeriveX509(t *testing.T) {
	der := selfSigned(t)
	cert := &kmip.Certificate{CertificateType: kmip.CertificateTypeX_509, CertificateValue: der}
	if err := certs.Validate(cert, nil); err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	attrs := certs.Derive(cert)
	want := map[kmip.AttributeName]any{
		kmip.AttributeNameCertificateType:           kmip.CertificateTypeX_509,
		kmip.AttributeNameCertificateLength:         int32(len(der)),
		kmip.AttributeNameDigitalSignatureAlgorithm: kmip.DigitalSignatureAlgorithmECDSAWithSHA256,
		kmip.AttributeNameCryptographicLength:       int32(256),
		kmip.AttributeNameCertificateIdentifier:     kmip.CertificateIdentifier{Issuer: "CN=subject,O=O", SerialNumber: "1234"},
	}
	for name, v := range want {
		if got, ok := attr(attrs, name); !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
		}
	}
	subj, _ := attr(attrs, kmip.AttributeNameX509CertificateSubject)
	s, ok := subj.(kmip.X_509CertificateSubject)
	if !ok || !bytes.Equal(s.SubjectDistinguishedName, parsed.RawSubject) || len(s.SubjectAlternativeName) != 1 {
		t.Errorf("X.509 Certificate Subject %+v", subj)
	}
	if _, ok := attr(attrs, kmip.AttributeNameDigest); !ok {
		t.Error("no Digest")
	}
}

func TestValidateRejects(t *testing.T) {
	for name, c := range map[string]*kmip.Certificate{
		"empty":        {CertificateType: kmip.CertificateTypeX_509},
		"not DER":      {CertificateType: kmip.CertificateTypeX_509, CertificateValue: []byte("not a certificate")},
		"unknown type": {CertificateType: 7, CertificateValue: []byte{1}},
		"too large":    {CertificateType: kmip.CertificateTypePGP, CertificateValue: make([]byte, 64<<10+1)},
	} {
		t.Run(name, func(t *testing.T) {
			err := certs.Validate(c, nil)
			e, ok := err.(*kmiperr.Error)
			if !ok || e.Reason != kmip.ResultReasonInvalidField {
				t.Fatalf("error %v, want Invalid Field", err)
			}
		})
	}
	if err := certs.Validate(&kmip.Certificate{CertificateType: kmip.CertificateTypePGP, CertificateValue: []byte{1}}, nil); err != nil {
		t.Errorf("PGP certificate refused: %v", err)
	}
}
