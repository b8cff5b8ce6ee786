package kmip_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

var kmipDN = pkix.Name{CommonName: "KMIP", OrganizationalUnit: []string{"OASIS"}, Organization: []string{"TEST"}, Country: []string{"US"}}

// selfSigned makes a certificate like those of TC-132 and TC-ECC-3, with
// subject and issuer alternative names.
func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	ian := must(asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("ca.example")}}))
	tpl := &x509.Certificate{
		SerialNumber:    new(big.Int).SetUint64(0xDADA16A58D2924D9),
		Subject:         kmipDN,
		NotBefore:       kmiptest.Epoch,
		NotAfter:        kmiptest.Epoch.Add(24 * time.Hour),
		DNSNames:        []string{"kms.example"},
		EmailAddresses:  []string{"ops@example"},
		IPAddresses:     []net.IP{net.IPv4(10, 0, 0, 1)},
		URIs:            []*url.URL{{Scheme: "https", Host: "kms.example", Path: "/"}},
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 18}, Value: ian}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return must(x509.ParseCertificate(der))
}

func x509Cert(der []byte) *kmip.Certificate {
	return &kmip.Certificate{CertificateType: kmip.CertificateTypeX_509, CertificateValue: der}
}

func TestRegisterCertificate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		key    crypto.Signer
		bits   int32
		sigAlg kmip.DigitalSignatureAlgorithm
	}{
		{"RSA", testRSA(), 1024, kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption},
		{"ECDSA", testEC(), 256, kmip.DigitalSignatureAlgorithmECDSAWithSHA256},
	} {
		cert := selfSigned(t, tt.key)
		for _, v := range allVersions {
			t.Run(tt.name+"/"+vname(v), func(t *testing.T) {
				f := kmiptest.New(t)
				id := register(t, f, v, x509Cert(cert.Raw), attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageVerify))
				// Attributes first: the Get below serves the object, which
				// makes it no longer Fresh.
				checkCertAttrs(t, getAttrs(t, f, v, id), v, cert, tt.bits, tt.sigAlg)
				got := ok[*payloads.GetResponsePayload](t, do(t, f, v, &payloads.GetRequestPayload{UniqueIdentifier: id}))
				if c, isCert := got.Object.(*kmip.Certificate); !isCert || !bytes.Equal(c.CertificateValue, cert.Raw) || c.CertificateType != kmip.CertificateTypeX_509 {
					t.Fatalf("Get returned %T", got.Object)
				}
				if err := f.Service.WaitServed(context.Background()); err != nil {
					t.Fatal(err)
				}
				if fresh, defined := value(getAttrs(t, f, v, id), kmip.AttributeNameFresh); defined && fresh != false {
					t.Errorf("Fresh = %v after a Get, want false", fresh)
				}
			})
		}
	}
}

// checkCertAttrs checks the attributes derived from cert as a client of v
// sees them: the 1.0 ones in text, the X.509 ones (1.1+) in DER.
func checkCertAttrs(t *testing.T, attrs []kmip.Attribute, v kmip.ProtocolVersion, cert *x509.Certificate, bits int32, sigAlg kmip.DigitalSignatureAlgorithm) {
	t.Helper()
	want := map[kmip.AttributeName]any{
		kmip.AttributeNameCertificateType:       kmip.CertificateTypeX_509,
		kmip.AttributeNameCryptographicLength:   bits,
		kmip.AttributeNameCertificateIdentifier: kmip.CertificateIdentifier{Issuer: "CN=KMIP,OU=OASIS,O=TEST,C=US", SerialNumber: "DADA16A58D2924D9"},
	}
	if v != kmip.V1_0 {
		want[kmip.AttributeNameCertificateLength] = int32(len(cert.Raw))
		want[kmip.AttributeNameDigitalSignatureAlgorithm] = sigAlg
		want[kmip.AttributeNameFresh] = true
	}
	for n, w := range want {
		if got, _ := value(attrs, n); got != w {
			t.Errorf("%s = %+v, want %+v", n, got, w)
		}
	}
	if _, found := value(attrs, kmip.AttributeNameCryptographicAlgorithm); found {
		t.Error("a certificate got a Cryptographic Algorithm; the recordings show none")
	}
	sum := sha256.Sum256(cert.Raw)
	if d, _ := value(attrs, kmip.AttributeNameDigest); !bytes.Equal(d.(kmip.Digest).DigestValue, sum[:]) {
		t.Errorf("Digest = %+v, want SHA-256 of the certificate", d)
	}
	subj, _ := value(attrs, kmip.AttributeNameCertificateSubject)
	if s := subj.(kmip.CertificateSubject); s.CertificateSubjectDistinguishedName != "CN=KMIP,OU=OASIS,O=TEST,C=US" ||
		!slices.Equal(s.CertificateSubjectAlternativeName, []string{"kms.example", "ops@example", "10.0.0.1", "https://kms.example/"}) {
		t.Errorf("Certificate Subject = %+v", s)
	}
	iss, _ := value(attrs, kmip.AttributeNameCertificateIssuer)
	if s := iss.(kmip.CertificateIssuer); s.CertificateIssuerDistinguishedName != "CN=KMIP,OU=OASIS,O=TEST,C=US" || !slices.Equal(s.CertificateIssuerAlternativeName, []string{"ca.example"}) {
		t.Errorf("Certificate Issuer = %+v", s)
	}
	x509Names := []kmip.AttributeName{kmip.AttributeNameX509CertificateIdentifier, kmip.AttributeNameX509CertificateSubject, kmip.AttributeNameX509CertificateIssuer}
	if v == kmip.V1_0 {
		for _, n := range append(x509Names, kmip.AttributeNameCertificateLength, kmip.AttributeNameDigitalSignatureAlgorithm, kmip.AttributeNameFresh) {
			if _, found := value(attrs, n); found {
				t.Errorf("KMIP 1.0 client sees %s", n)
			}
		}
		return
	}
	serialDER := must(asn1.Marshal(cert.SerialNumber))
	xid, _ := value(attrs, kmip.AttributeNameX509CertificateIdentifier)
	if x := xid.(kmip.X_509CertificateIdentifier); !bytes.Equal(x.IssuerDistinguishedName, cert.RawIssuer) || !bytes.Equal(x.CertificateSerialNumber, serialDER) {
		t.Errorf("X.509 Certificate Identifier = %x", x)
	}
	xs, _ := value(attrs, kmip.AttributeNameX509CertificateSubject)
	if x := xs.(kmip.X_509CertificateSubject); !bytes.Equal(x.SubjectDistinguishedName, cert.RawSubject) || len(x.SubjectAlternativeName) != 4 ||
		!bytes.Equal(x.SubjectAlternativeName[0], append([]byte{0x82, 11}, "kms.example"...)) {
		t.Errorf("X.509 Certificate Subject = %x", x)
	}
	xi, _ := value(attrs, kmip.AttributeNameX509CertificateIssuer)
	if x := xi.(kmip.X_509CertificateIssuer); !bytes.Equal(x.IssuerDistinguishedName, cert.RawIssuer) || len(x.IssuerAlternativeName) != 1 {
		t.Errorf("X.509 Certificate Issuer = %x", x)
	}
}

// foreignCert builds a certificate for a secp256k1 key, which Go's parser
// refuses (TC-ECC-3 registers one); its signature is not checked.
func foreignCert(t *testing.T, curve asn1.ObjectIdentifier) []byte {
	t.Helper()
	name := must(asn1.Marshal(kmipDN.ToRDNSequence()))
	validity := must(asn1.Marshal(struct{ NotBefore, NotAfter time.Time }{kmiptest.Epoch, kmiptest.Epoch.Add(time.Hour)}))
	ecdsaSHA256 := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}
	tbs := struct {
		Version            int `asn1:"optional,explicit,default:0,tag:0"`
		SerialNumber       *big.Int
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Issuer             asn1.RawValue
		Validity           asn1.RawValue
		Subject            asn1.RawValue
		PublicKey          asn1.RawValue
	}{2, big.NewInt(0xEC0B), ecdsaSHA256, asn1.RawValue{FullBytes: name}, asn1.RawValue{FullBytes: validity}, asn1.RawValue{FullBytes: name},
		asn1.RawValue{FullBytes: ecSPKI(curve, point(32))}}
	return must(asn1.Marshal(struct {
		TBS                any
		SignatureAlgorithm pkix.AlgorithmIdentifier
		SignatureValue     asn1.BitString
	}{tbs, ecdsaSHA256, asn1.BitString{Bytes: seq(70), BitLength: 560}}))
}

func TestRegisterForeignCertificate(t *testing.T) {
	f := kmiptest.New(t)
	der := foreignCert(t, oidSecp256k1)
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Fatal("Go parses the test certificate: the test no longer covers the fallback")
	}
	id := register(t, f, kmip.V1_2, x509Cert(der))
	attrs := getAttrs(t, f, kmip.V1_2, id)
	if l, _ := value(attrs, kmip.AttributeNameCryptographicLength); l != int32(256) {
		t.Errorf("Cryptographic Length = %v", l)
	}
	if a, _ := value(attrs, kmip.AttributeNameDigitalSignatureAlgorithm); a != kmip.DigitalSignatureAlgorithmECDSAWithSHA256 {
		t.Errorf("Digital Signature Algorithm = %v", a)
	}
	if id, _ := value(attrs, kmip.AttributeNameCertificateIdentifier); id != (kmip.CertificateIdentifier{Issuer: "CN=KMIP,OU=OASIS,O=TEST,C=US", SerialNumber: "EC0B"}) {
		t.Errorf("Certificate Identifier = %+v", id)
	}
}

func TestRegisterCertificateRejects(t *testing.T) {
	good := selfSigned(t, testEC()).Raw
	tests := []struct {
		name string
		cert *kmip.Certificate
		want []kmip.ResultReason
	}{
		{"garbage", x509Cert(seq(300)), invalidField},
		{"empty", x509Cert(nil), invalidField},
		{"oversized", x509Cert(append(slices.Clone(good), make([]byte, 64<<10)...)), invalidField},
		{"trailing bytes", x509Cert(append(slices.Clone(good), 0)), invalidField},
		{"key on an unknown curve", x509Cert(foreignCert(t, asn1.ObjectIdentifier{1, 2, 3, 4})), invalidField},
		{"unknown certificate type", &kmip.Certificate{CertificateType: 7, CertificateValue: good}, invalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			fails(t, do(t, f, kmip.V1_4, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeCertificate, Object: tt.cert}), tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Register proposed %d commands", n)
			}
		})
	}
}

// TestRegisterPGPCertificate: the PGP certificate type is kept as opaque
// bytes.
func TestRegisterPGPCertificate(t *testing.T) {
	f := kmiptest.New(t)
	id := register(t, f, kmip.V1_1, &kmip.Certificate{CertificateType: kmip.CertificateTypePGP, CertificateValue: seq(200)})
	attrs := getAttrs(t, f, kmip.V1_1, id)
	if ct, _ := value(attrs, kmip.AttributeNameCertificateType); ct != kmip.CertificateTypePGP {
		t.Errorf("Certificate Type = %v", ct)
	}
	if l, _ := value(attrs, kmip.AttributeNameCertificateLength); l != int32(200) {
		t.Errorf("Certificate Length = %v", l)
	}
	if _, found := value(attrs, kmip.AttributeNameX509CertificateSubject); found {
		t.Error("a PGP certificate got X.509 attributes")
	}
}
