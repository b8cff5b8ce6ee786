package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/ovh/kmip-go"
)

// errNotPEM: the material has no PEM block.
var errNotPEM = errors.New("kmsctl: not PEM")

// asymMaterial is a public key, private key or certificate read from a PEM
// or DER file, in the KMIP Key Format Type that names its encoding (KMIP
// 1.4 §9.1.3.2.3).
type asymMaterial struct {
	objectType kmip.ObjectType
	format     kmip.KeyFormatType // keys only
	der        []byte
}

// pemTypes maps PEM block types to what they hold.
var pemTypes = map[string]struct {
	objectType kmip.ObjectType
	format     kmip.KeyFormatType
}{
	"RSA PRIVATE KEY": {kmip.ObjectTypePrivateKey, kmip.KeyFormatTypePKCS_1},
	"PRIVATE KEY":     {kmip.ObjectTypePrivateKey, kmip.KeyFormatTypePKCS_8},
	"EC PRIVATE KEY":  {kmip.ObjectTypePrivateKey, kmip.KeyFormatTypeECPrivateKey},
	"RSA PUBLIC KEY":  {kmip.ObjectTypePublicKey, kmip.KeyFormatTypePKCS_1},
	"PUBLIC KEY":      {kmip.ObjectTypePublicKey, kmip.KeyFormatTypeX_509},
	"CERTIFICATE":     {kmip.ObjectTypeCertificate, 0},
}

// derParsers try each DER encoding, in the order of pemTypes' meaning.
var derParsers = []struct {
	objectType kmip.ObjectType
	format     kmip.KeyFormatType
	parse      func([]byte) error
}{
	{kmip.ObjectTypePrivateKey, kmip.KeyFormatTypePKCS_1, func(b []byte) error { _, err := x509.ParsePKCS1PrivateKey(b); return err }},
	{kmip.ObjectTypePrivateKey, kmip.KeyFormatTypePKCS_8, func(b []byte) error { _, err := x509.ParsePKCS8PrivateKey(b); return err }},
	{kmip.ObjectTypePrivateKey, kmip.KeyFormatTypeECPrivateKey, func(b []byte) error { _, err := x509.ParseECPrivateKey(b); return err }},
	{kmip.ObjectTypePublicKey, kmip.KeyFormatTypePKCS_1, func(b []byte) error { _, err := x509.ParsePKCS1PublicKey(b); return err }},
	{kmip.ObjectTypePublicKey, kmip.KeyFormatTypeX_509, func(b []byte) error { _, err := x509.ParsePKIXPublicKey(b); return err }},
	{kmip.ObjectTypeCertificate, 0, func(b []byte) error { _, err := x509.ParseCertificate(b); return err }},
}

// parseAsymmetric reads a PEM block, or DER when b is not PEM, and checks
// that it holds an object of type want (0: any). For DER input and want 0
// it returns errNotPEM, so that plain bytes stay a symmetric key.
func parseAsymmetric(b []byte, want kmip.ObjectType) (asymMaterial, error) {
	kind := typeNoun(want)
	if block, _ := pem.Decode(b); block != nil {
		defer clear(block.Bytes)
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return asymMaterial{}, errors.New("the private key is encrypted: decrypt it first, e.g. `openssl pkey -in KEY -out PLAIN`")
		}
		t, ok := pemTypes[block.Type]
		if !ok {
			return asymMaterial{}, fmt.Errorf("unsupported PEM block %q: want RSA PRIVATE KEY, PRIVATE KEY, EC PRIVATE KEY, RSA PUBLIC KEY, PUBLIC KEY or CERTIFICATE", block.Type)
		}
		if want != 0 && t.objectType != want {
			return asymMaterial{}, fmt.Errorf("the PEM block is a %s, not a %s: use --type %s", block.Type, kind, typeWord(t.objectType))
		}
		for _, p := range derParsers {
			if p.objectType == t.objectType && p.format == t.format {
				if err := p.parse(block.Bytes); err != nil {
					return asymMaterial{}, fmt.Errorf("invalid %s: %v", block.Type, err)
				}
			}
		}
		return newAsymMaterial(t.objectType, t.format, block.Bytes)
	}
	if want == 0 {
		return asymMaterial{}, errNotPEM
	}
	for _, p := range derParsers {
		if p.objectType == want && p.parse(b) == nil {
			return newAsymMaterial(want, p.format, b)
		}
	}
	return asymMaterial{}, fmt.Errorf("the material is not a %s in PEM or DER", kind)
}

func newAsymMaterial(ot kmip.ObjectType, format kmip.KeyFormatType, der []byte) (asymMaterial, error) {
	return asymMaterial{objectType: ot, format: format, der: append([]byte(nil), der...)}, nil
}

// object returns the KMIP object to register and the usage mask that
// suits it when --usage is not given. The server reads algorithm and
// length from the key itself. Every format used here is defined from KMIP
// 1.0 on (EC Private Key is value 6 of the 1.0 Key Format Type).
func (m asymMaterial) object() (kmip.Object, kmip.CryptographicUsageMask) {
	if m.objectType == kmip.ObjectTypeCertificate {
		return &kmip.Certificate{CertificateType: kmip.CertificateTypeX_509, CertificateValue: m.der}, kmip.CryptographicUsageVerify
	}
	der := m.der
	kb := kmip.KeyBlock{
		KeyFormatType: m.format,
		KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &der}}},
	}
	if m.objectType == kmip.ObjectTypePrivateKey {
		return &kmip.PrivateKey{KeyBlock: kb}, kmip.CryptographicUsageSign
	}
	return &kmip.PublicKey{KeyBlock: kb}, kmip.CryptographicUsageVerify
}

// typeWord is the --type word of an asymmetric object type.
func typeWord(ot kmip.ObjectType) string {
	switch ot {
	case kmip.ObjectTypePrivateKey:
		return "private"
	case kmip.ObjectTypePublicKey:
		return "public"
	}
	return "certificate"
}

func typeNoun(ot kmip.ObjectType) string {
	switch ot {
	case kmip.ObjectTypePrivateKey:
		return "private key"
	case kmip.ObjectTypePublicKey:
		return "public key"
	case kmip.ObjectTypeCertificate:
		return "certificate"
	}
	return "key or certificate"
}
