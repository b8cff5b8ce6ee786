package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// Certificate objects (KMIP 1.4 §2.2.1). An X.509 certificate is checked on
// Register and the server derives the certificate attributes from it (KMIP
// 1.4 §3.8–3.16: "SHALL be set by the server"). A PGP certificate (a type
// deprecated in KMIP 1.2 for the PGP Key object) is kept as opaque bytes.

// Bounds on registered certificates.
const (
	maxCertificateBytes = 64 << 10
	maxAltNames         = 256
)

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIssuerAltName  = asn1.ObjectIdentifier{2, 5, 29, 18}
)

// certificate and tbsCertificate are RFC 5280 §4.1, read only as far as the
// attributes need.
type certificate struct {
	TBS                tbsCertificate
	SignatureAlgorithm pkix.AlgorithmIdentifier
	SignatureValue     asn1.BitString
}

type tbsCertificate struct {
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber       asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           asn1.RawValue
	Subject            asn1.RawValue
	PublicKey          asn1.RawValue
	IssuerUniqueID     asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUniqueID    asn1.BitString   `asn1:"optional,tag:2"`
	Extensions         []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

// certView is what the attributes are derived from.
type certView struct {
	tbs             tbsCertificate
	issuer, subject pkix.Name
	serial          *big.Int
	keyBits         int32 // 0: unknown
}

// readCertificate parses an X.509 certificate. Go's parser checks it when
// it can; a certificate whose key is on a curve Go does not implement
// (the secp256k1 one of TC-ECC-3) is accepted when its key is one the
// server recognises (keyformat.ForeignSPKI).
func readCertificate(der []byte) (*certView, bool) {
	var c certificate
	if rest, err := asn1.Unmarshal(der, &c); err != nil || len(rest) != 0 {
		return nil, false
	}
	v := &certView{tbs: c.TBS, serial: new(big.Int)}
	if _, err := asn1.Unmarshal(c.TBS.SerialNumber.FullBytes, &v.serial); err != nil {
		return nil, false
	}
	for _, n := range []struct {
		raw  []byte
		name *pkix.Name
	}{{c.TBS.Issuer.FullBytes, &v.issuer}, {c.TBS.Subject.FullBytes, &v.subject}} {
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(n.raw, &rdn); err != nil || len(rest) != 0 {
			return nil, false
		}
		n.name.FillFromRDNSequence(&rdn)
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		if pub, err := x509.ParsePKIXPublicKey(c.TBS.PublicKey.FullBytes); err == nil {
			if f, err := keyformat.FactsOf(pub); err == nil {
				v.keyBits = f.Bits
			}
		}
		return v, true
	}
	f, ok := keyformat.ForeignSPKI(c.TBS.PublicKey.FullBytes)
	if !ok {
		return nil, false
	}
	v.keyBits = f.Bits
	return v, true
}

// Validate checks a registered Certificate: an X.509 one must parse, and
// its size is bounded. It is an objkind.Kind Validate function.
func Validate(obj kmip.Object, _ []kmip.Attribute) error {
	c := obj.(*kmip.Certificate)
	if n := len(c.CertificateValue); n == 0 || n > maxCertificateBytes {
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Certificate Value must hold 1 to %d bytes", maxCertificateBytes)
	}
	switch c.CertificateType {
	case kmip.CertificateTypeX_509:
		if _, ok := readCertificate(c.CertificateValue); !ok {
			return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Certificate Value is not a DER-encoded X.509 certificate")
		}
	case kmip.CertificateTypePGP:
	default:
		return kmiperr.Errorf(kmip.ResultReasonInvalidField, "Certificate Type not supported: X.509 and PGP are")
	}
	return nil
}

// Derive returns the attributes the server sets for a
// certificate. Version gating hides those a client's version does not
// define: the 1.1 X.509 ones from 1.0 clients. The 1.0 Certificate
// Identifier, Subject and Issuer are deprecated from 1.1 but still defined,
// and the 1.1 and 1.2 recordings list them.
func Derive(obj kmip.Object) []kmip.Attribute {
	c := obj.(*kmip.Certificate)
	out := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCertificateType, AttributeValue: c.CertificateType},
		{AttributeName: kmip.AttributeNameCertificateLength, AttributeValue: int32(len(c.CertificateValue))},
		// KMIP 1.1+: Fresh applies to all cryptographic objects, and the
		// OASIS recordings of 1.1 and 1.2 list it for certificates.
		{AttributeName: kmip.AttributeNameFresh, AttributeValue: true},
	}
	if _, covered := keyformat.Digest(obj); !covered {
		// KMIP 1.4 §3.17: the digest of a certificate is over its
		// Certificate Value.
		sum := sha256.Sum256(c.CertificateValue)
		out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigest, AttributeValue: kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: sum[:]}})
	}
	if c.CertificateType != kmip.CertificateTypeX_509 {
		return out
	}
	if v, ok := readCertificate(c.CertificateValue); ok {
		out = append(out, v.attrs()...)
	}
	return out
}

// attrs are the attributes read from an X.509 certificate. The encodings
// follow the OASIS test cases TC-132 and TC-ECC-3: distinguished names as
// text in RFC 4514 form ("CN=KMIP,OU=OASIS,O=TEST,C=US") and the serial
// number as upper-case hexadecimal for the 1.0 attributes; the DER
// encodings of the names and of the serial number INTEGER for the X.509
// ones.
func (v *certView) attrs() []kmip.Attribute {
	subjectRaw, subjectText := generalNames(v.extension(oidSubjectAltName))
	issuerRaw, issuerText := generalNames(v.extension(oidIssuerAltName))
	out := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameX509CertificateIdentifier, AttributeValue: kmip.X_509CertificateIdentifier{
			IssuerDistinguishedName: v.tbs.Issuer.FullBytes, CertificateSerialNumber: v.tbs.SerialNumber.FullBytes,
		}},
		{AttributeName: kmip.AttributeNameX509CertificateSubject, AttributeValue: kmip.X_509CertificateSubject{
			SubjectDistinguishedName: v.tbs.Subject.FullBytes, SubjectAlternativeName: subjectRaw,
		}},
		{AttributeName: kmip.AttributeNameX509CertificateIssuer, AttributeValue: kmip.X_509CertificateIssuer{
			IssuerDistinguishedName: v.tbs.Issuer.FullBytes, IssuerAlternativeName: issuerRaw,
		}},
		{AttributeName: kmip.AttributeNameCertificateIdentifier, AttributeValue: kmip.CertificateIdentifier{
			Issuer: v.issuer.String(), SerialNumber: serialHex(v.serial),
		}},
		{AttributeName: kmip.AttributeNameCertificateSubject, AttributeValue: kmip.CertificateSubject{
			CertificateSubjectDistinguishedName: v.subject.String(), CertificateSubjectAlternativeName: subjectText,
		}},
		{AttributeName: kmip.AttributeNameCertificateIssuer, AttributeValue: kmip.CertificateIssuer{
			CertificateIssuerDistinguishedName: v.issuer.String(), CertificateIssuerAlternativeName: issuerText,
		}},
	}
	for _, s := range signatureAlgorithms {
		if s.oid.Equal(v.tbs.SignatureAlgorithm.Algorithm) {
			out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameDigitalSignatureAlgorithm, AttributeValue: s.alg})
		}
	}
	// The recordings give a certificate the Cryptographic Length of its
	// public key, not a Cryptographic Algorithm.
	if v.keyBits != 0 {
		out = append(out, kmip.Attribute{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: v.keyBits})
	}
	return out
}

func (v *certView) extension(oid asn1.ObjectIdentifier) []byte {
	for _, e := range v.tbs.Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

// serialHex writes a serial number as openssl does: upper-case hexadecimal
// with an even number of digits.
func serialHex(serial *big.Int) string {
	b := serial.Bytes()
	if len(b) == 0 {
		return "00"
	}
	sign := ""
	if serial.Sign() < 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%X", sign, b)
}

// signatureAlgorithms maps the signature algorithm OIDs of RFC 3279, 4055
// and 5758 to KMIP's Digital Signature Algorithm.
var signatureAlgorithms = []struct {
	oid asn1.ObjectIdentifier
	alg kmip.DigitalSignatureAlgorithm
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 2}, kmip.DigitalSignatureAlgorithmMD2WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}, kmip.DigitalSignatureAlgorithmMD5WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, kmip.DigitalSignatureAlgorithmSHA_1WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}, kmip.DigitalSignatureAlgorithmSHA_224WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, kmip.DigitalSignatureAlgorithmSHA_256WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, kmip.DigitalSignatureAlgorithmSHA_384WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, kmip.DigitalSignatureAlgorithmSHA_512WithRSAEncryption},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}, kmip.DigitalSignatureAlgorithmRSASSA_PSS},
	{asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 3}, kmip.DigitalSignatureAlgorithmDSAWithSHA_1},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 1}, kmip.DigitalSignatureAlgorithmDSAWithSHA224},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 2}, kmip.DigitalSignatureAlgorithmDSAWithSHA256},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, kmip.DigitalSignatureAlgorithmECDSAWithSHA_1},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}, kmip.DigitalSignatureAlgorithmECDSAWithSHA224},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, kmip.DigitalSignatureAlgorithmECDSAWithSHA256},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, kmip.DigitalSignatureAlgorithmECDSAWithSHA384},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, kmip.DigitalSignatureAlgorithmECDSAWithSHA512},
}

// generalNames splits a DER GeneralNames sequence (RFC 5280 §4.2.1.6) into
// the DER encoding of each name and the text of those that have one: e-mail
// addresses, DNS names, URIs, IP addresses and directory names.
func generalNames(der []byte) (raw [][]byte, text []string) {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return nil, nil
	}
	for b := seq.Bytes; len(b) > 0 && len(raw) < maxAltNames; {
		var n asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &n); err != nil {
			return nil, nil
		}
		raw = append(raw, n.FullBytes)
		if n.Class != asn1.ClassContextSpecific {
			continue
		}
		switch n.Tag {
		case 1, 2, 6: // rfc822Name, dNSName, uniformResourceIdentifier: IA5String
			text = append(text, string(n.Bytes))
		case 7: // iPAddress
			if len(n.Bytes) == net.IPv4len || len(n.Bytes) == net.IPv6len {
				text = append(text, net.IP(n.Bytes).String())
			}
		case 4: // directoryName: an explicitly tagged Name
			var rdn pkix.RDNSequence
			if rest, err := asn1.Unmarshal(n.Bytes, &rdn); err == nil && len(rest) == 0 {
				var name pkix.Name
				name.FillFromRDNSequence(&rdn)
				text = append(text, name.String())
			}
		}
	}
	return raw, text
}
