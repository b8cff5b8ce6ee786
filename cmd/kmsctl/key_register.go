package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/spf13/cobra"
)

// registerFlags are the flags of `key register`.
type registerFlags struct {
	typ, file, hexStr, alg, name, group, secretType string
	length                                          int
	usage                                           []string
}

func newKeyRegisterCmd(a *app) *cobra.Command {
	var rf registerFlags
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register existing key material, a key pair half or a certificate and print its id",
		Long: "Register existing material with the server and print its id.\n\n" +
			"  --type symmetric    raw key bytes (--file or --hex), with --alg and --length\n" +
			"  --type secret       secret data (a password or a seed, --secret-type)\n" +
			"  --type opaque       opaque bytes the server does not interpret\n" +
			"  --type private      an RSA or EC private key: PEM or DER, PKCS#1, PKCS#8 or SEC 1 (EC PRIVATE KEY)\n" +
			"  --type public       an RSA or EC public key: PEM or DER, PKCS#1 or SubjectPublicKeyInfo\n" +
			"  --type certificate  an X.509 certificate, PEM or DER\n\n" +
			"Without --type, a PEM file is registered as what its block says; anything else as a symmetric key.\n" +
			"The server reads algorithm and length from a public or private key itself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			material, err := readMaterial(rf.file, rf.hexStr)
			if err != nil {
				return err
			}
			defer clear(material)
			ot, err := registerType(rf.typ, material)
			if err != nil {
				return err
			}
			req, err := rf.request(ot, material)
			if err != nil {
				return err
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.RegisterResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("register: %w", err)
			}
			return a.emit(idResult{ID: resp.UniqueIdentifier})
		},
	}
	f := cmd.Flags()
	f.StringVar(&rf.typ, "type", "", "object type: symmetric, secret, opaque, private, public or certificate\n(default: from the PEM block, else symmetric)")
	f.StringVar(&rf.file, "file", "", "read the material from this file")
	f.StringVar(&rf.hexStr, "hex", "", "material as hex (DER for keys and certificates)")
	f.StringVar(&rf.alg, "alg", "AES", "algorithm of a symmetric key")
	f.IntVar(&rf.length, "length", 0, "length of a symmetric key in bits (default: the material's length)")
	f.StringVar(&rf.secretType, "secret-type", "password", "Secret Data Type of a secret: password or seed")
	f.StringVar(&rf.name, "name", "", "Name attribute")
	f.StringVar(&rf.group, "group", "", "Object Group attribute")
	f.StringSliceVar(&rf.usage, "usage", nil, "cryptographic usage, e.g. encrypt,decrypt (default: by algorithm for symmetric keys,\nsign for private keys, verify for public keys and certificates)")
	return cmd
}

// registerTypeAliases are the --type words of `key register`.
var registerTypeAliases = map[string]kmip.ObjectType{
	"symmetric":   kmip.ObjectTypeSymmetricKey,
	"secret":      kmip.ObjectTypeSecretData,
	"opaque":      kmip.ObjectTypeOpaqueObject,
	"private":     kmip.ObjectTypePrivateKey,
	"public":      kmip.ObjectTypePublicKey,
	"certificate": kmip.ObjectTypeCertificate,
	"cert":        kmip.ObjectTypeCertificate,
}

// registerType resolves --type; without it a PEM block names the type.
func registerType(typ string, material []byte) (kmip.ObjectType, error) {
	if typ == "" {
		if m, err := parseAsymmetric(material, 0); err == nil {
			return m.objectType, nil
		} else if !errors.Is(err, errNotPEM) {
			return 0, err
		}
		return kmip.ObjectTypeSymmetricKey, nil
	}
	ot, err := parseEnum("type", typ, registerTypeAliases)
	if err != nil {
		return 0, err
	}
	switch ot {
	case kmip.ObjectTypeSymmetricKey, kmip.ObjectTypeSecretData, kmip.ObjectTypeOpaqueObject,
		kmip.ObjectTypePrivateKey, kmip.ObjectTypePublicKey, kmip.ObjectTypeCertificate:
		return ot, nil
	}
	return 0, fmt.Errorf("invalid --type %q: want symmetric, secret, opaque, private, public or certificate", typ)
}

// request builds the Register request for an object of type ot.
func (rf *registerFlags) request(ot kmip.ObjectType, material []byte) (*payloads.RegisterRequestPayload, error) {
	var attrs []kmip.Attribute
	var defaultMask kmip.CryptographicUsageMask
	var obj kmip.Object
	switch ot {
	case kmip.ObjectTypeSymmetricKey:
		o, mask, err := symmetricObject(material, rf.alg, rf.length)
		if err != nil {
			return nil, err
		}
		obj, defaultMask = o, mask
	case kmip.ObjectTypeSecretData:
		st, err := parseEnum[kmip.SecretDataType]("secret-type", rf.secretType, nil)
		if err != nil {
			return nil, err
		}
		obj = &kmip.SecretData{SecretDataType: st, KeyBlock: rawKeyBlock(material)}
	case kmip.ObjectTypeOpaqueObject:
		// KMIP defines no Opaque Data Type values; 0x80000000 is the
		// first of the extension range (what PyKMIP uses as its "NONE").
		obj = &kmip.OpaqueObject{OpaqueDataType: 0x80000000, OpaqueDataValue: material}
	default:
		m, err := parseAsymmetric(material, ot)
		if err != nil {
			return nil, err
		}
		obj, defaultMask = m.object()
	}
	if len(rf.usage) > 0 {
		mask, err := parseUsage(rf.usage)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicUsageMask, mask))
	} else if defaultMask != 0 {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicUsageMask, defaultMask))
	}
	if rf.name != "" {
		attrs = append(attrs, nameAttr(rf.name))
	}
	if rf.group != "" {
		attrs = append(attrs, attr(kmip.AttributeNameObjectGroup, rf.group))
	}
	return &payloads.RegisterRequestPayload{
		ObjectType:        ot,
		TemplateAttribute: kmip.TemplateAttribute{Attribute: attrs},
		Object:            obj,
	}, nil
}

func readMaterial(file, hexStr string) ([]byte, error) {
	switch {
	case file != "" && hexStr != "":
		return nil, errors.New("give either --file or --hex, not both")
	case file == "" && hexStr == "":
		return nil, errors.New("the key material is missing: give --file or --hex")
	}
	var b []byte
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("cannot read key material: %w", err)
		}
		b = data
	} else {
		s := strings.TrimPrefix(strings.TrimSpace(hexStr), "0x")
		data, err := hex.DecodeString(s)
		if err != nil {
			return nil, errors.New("invalid --hex: not a hex string")
		}
		b = data
	}
	if len(b) == 0 {
		return nil, errors.New("key material is empty")
	}
	return b, nil
}

func rawKeyBlock(material []byte) kmip.KeyBlock {
	return kmip.KeyBlock{
		KeyFormatType: kmip.KeyFormatTypeRaw,
		KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
	}
}

// symmetricObject builds a Raw symmetric key. Its algorithm and length go
// in the Key Block, where KMIP carries them for Register.
func symmetricObject(material []byte, alg string, length int) (*kmip.SymmetricKey, kmip.CryptographicUsageMask, error) {
	a, err := parseEnum("alg", alg, algAliases)
	if err != nil {
		return nil, 0, err
	}
	bits := len(material) * 8
	if length != 0 && length != bits {
		// 3DES keys are 168 bits of key in 192 bits of material.
		if !(a == kmip.CryptographicAlgorithm3DES && length == 168 && bits == 192) {
			return nil, 0, fmt.Errorf("--length %d does not match the %d-bit key material", length, bits)
		}
		bits = length
	}
	mask := cipherUsage
	for _, sa := range symAlgs {
		if sa.alg == a {
			mask = sa.usage
		}
	}
	kb := rawKeyBlock(material)
	kb.CryptographicAlgorithm = a
	kb.CryptographicLength = int32(bits)
	return &kmip.SymmetricKey{KeyBlock: kb}, mask, nil
}
