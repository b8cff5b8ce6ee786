package kmip_test

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func TestCreateSymmetric(t *testing.T) {
	tests := []struct {
		name  string
		alg   kmip.CryptographicAlgorithm
		bits  int32
		bytes int
	}{
		{"AES-128", kmip.CryptographicAlgorithmAES, 128, 16},
		{"AES-192", kmip.CryptographicAlgorithmAES, 192, 24},
		{"AES-256", kmip.CryptographicAlgorithmAES, 256, 32},
		{"3DES two-key", kmip.CryptographicAlgorithm3DES, 112, 16},
		{"3DES three-key", kmip.CryptographicAlgorithm3DES, 168, 24},
		{"HMAC-SHA1", kmip.CryptographicAlgorithmHMACSHA1, 160, 20},
		{"HMAC-SHA256", kmip.CryptographicAlgorithmHMACSHA256, 256, 32},
		{"HMAC-SHA384", kmip.CryptographicAlgorithmHMACSHA384, 384, 48},
		{"HMAC-SHA512", kmip.CryptographicAlgorithmHMACSHA512, 512, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			id := createAs(t, f, alice, kmip.V1_2, template(
				attr(kmip.AttributeNameCryptographicAlgorithm, tt.alg),
				attr(kmip.AttributeNameCryptographicLength, tt.bits),
			))
			got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_2, &payloads.GetRequestPayload{UniqueIdentifier: id}))
			key, isKey := got.Object.(*kmip.SymmetricKey)
			if !isKey {
				t.Fatalf("Get returned %T", got.Object)
			}
			b, err := key.KeyBlock.GetBytes()
			if err != nil || len(b) != tt.bytes {
				t.Fatalf("key material: %d bytes, err %v; want %d bytes", len(b), err, tt.bytes)
			}
			if bytes.Count(b, []byte{0}) == len(b) {
				t.Error("key material is all zero")
			}
			if key.KeyBlock.CryptographicAlgorithm != tt.alg || key.KeyBlock.CryptographicLength != tt.bits {
				t.Errorf("key block says %v/%d", key.KeyBlock.CryptographicAlgorithm, key.KeyBlock.CryptographicLength)
			}
			attrs := getAttrs(t, f, kmip.V1_2, id, kmip.AttributeNameCryptographicAlgorithm, kmip.AttributeNameCryptographicLength, kmip.AttributeNameState)
			want := []kmip.Attribute{
				attr(kmip.AttributeNameCryptographicAlgorithm, tt.alg),
				attr(kmip.AttributeNameCryptographicLength, tt.bits),
				attr(kmip.AttributeNameState, kmip.StatePreActive),
			}
			if !attrsEqual(attrs, want) {
				t.Errorf("attributes = %+v, want %+v", attrs, want)
			}
		})
	}
}

func attrsEqual(a, b []kmip.Attribute) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].AttributeName != b[i].AttributeName || a[i].AttributeValue != b[i].AttributeValue {
			return false
		}
	}
	return true
}

func TestCreateRejects(t *testing.T) {
	aes := attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES)
	len256 := attr(kmip.AttributeNameCryptographicLength, int32(256))
	tests := []struct {
		name    string
		version kmip.ProtocolVersion
		typ     kmip.ObjectType
		tpl     kmip.TemplateAttribute
		want    []kmip.ResultReason
	}{
		{"AES bad length", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, attr(kmip.AttributeNameCryptographicLength, int32(100))), invalidField},
		{"AES no length", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes), invalidField},
		{"no algorithm", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(len256), invalidField},
		{"RSA is not symmetric", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA), attr(kmip.AttributeNameCryptographicLength, int32(2048))), invalidField},
		{"3DES 64 bits", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithm3DES), attr(kmip.AttributeNameCryptographicLength, int32(64))), invalidField},
		{"HMAC odd bits", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmHMACSHA256), attr(kmip.AttributeNameCryptographicLength, int32(257))), invalidField},
		{"negative length", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, attr(kmip.AttributeNameCryptographicLength, int32(-256))), invalidField},
		{"private key type", kmip.V1_4, kmip.ObjectTypePrivateKey, template(aes, len256), invalidField},
		{"secret data type", kmip.V1_4, kmip.ObjectTypeSecretData, template(aes, len256), invalidField},
		{"server sets State", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameState, kmip.StateActive)), permissionDenied},
		{"server sets Unique Identifier", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameUniqueIdentifier, "mine")), permissionDenied},
		{"server sets Initial Date", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameInitialDate, kmiptest.Epoch)), permissionDenied},
		{"server sets Digest", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: make([]byte, 32)})), permissionDenied},
		{"Sensitive in 1.0", kmip.V1_0, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameSensitive, true)), invalidField},
		{"Fresh in 1.0", kmip.V1_0, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameFresh, true)), invalidField},
		{"Original Creation Date in 1.1", kmip.V1_1, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameOriginalCreationDate, kmiptest.Epoch)), invalidField},
		{"Description in 1.3", kmip.V1_3, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameDescription, "d")), invalidField},
		{"unknown standard name", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr("Colour", "blue")), invalidField},
		{"y- custom from client", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr("y-server-only", "v")), append(invalidField, kmip.ResultReasonPermissionDenied)},
		{"bare x- prefix", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr("x-", "v")), invalidField},
		{"Cryptographic Length twice", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameCryptographicLength, int32(128))), invalidField},
		{"Activation Date twice", kmip.V1_4, kmip.ObjectTypeSymmetricKey, template(aes, len256, attr(kmip.AttributeNameActivationDate, kmiptest.Epoch), attr(kmip.AttributeNameActivationDate, hourLater())), invalidField},
		{"named template", kmip.V1_4, kmip.ObjectTypeSymmetricKey, kmip.TemplateAttribute{Name: []kmip.Name{{NameValue: "tpl", NameType: kmip.NameTypeUninterpretedTextString}}}, []kmip.ResultReason{kmip.ResultReasonItemNotFound, kmip.ResultReasonInvalidField}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := kmiptest.New(t)
			bi := do(t, f, tt.version, &payloads.CreateRequestPayload{ObjectType: tt.typ, TemplateAttribute: tt.tpl})
			fails(t, bi, tt.want...)
			if n := f.Replicator.Applied(); n != 0 {
				t.Errorf("a rejected Create proposed %d commands", n)
			}
		})
	}
}

var (
	invalidField     = []kmip.ResultReason{kmip.ResultReasonInvalidField}
	permissionDenied = []kmip.ResultReason{kmip.ResultReasonPermissionDenied}
)

// TestCreateDeprecatedAttribute: Operation Policy Name is deprecated as of
// KMIP 1.3 ("MAY be removed from subsequent versions"), not removed, so 1.3
// and 1.4 clients may still send it.
func TestCreateDeprecatedAttribute(t *testing.T) {
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			id := create(t, f, v, attr(kmip.AttributeNameOperationPolicyName, "default"))
			if got, _ := value(getAttrs(t, f, v, id), kmip.AttributeNameOperationPolicyName); got != "default" {
				t.Errorf("Operation Policy Name = %v", got)
			}
		})
	}
}

func TestCreateCustomAttributes(t *testing.T) {
	when := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	big1 := new(big.Int).Lsh(big.NewInt(1), 70)
	tests := []struct {
		name  kmip.AttributeName
		value any
	}{
		{"x-Product_Version", "8.0.2"},
		{"x-NETAPP-ClusterId", "a1b2c3"},
		{"x-count", int32(-7)},
		{"x-long", int64(1) << 40},
		{"x-flag", true},
		{"x-blob", []byte{0, 1, 2, 0xff}},
		{"x-when", when},
		{"x-enum", ttlv.Enum(3)},
		{"x-interval", 90 * time.Second},
		{"x-big", big1},
		{"x-struct", ttlv.Struct{{Tag: kmip.TagNameValue, Value: "n"}, {Tag: kmip.TagCryptographicLength, Value: int32(1)}}},
	}
	for _, v := range allVersions {
		t.Run(vname(v), func(t *testing.T) {
			f := kmiptest.New(t)
			var custom []kmip.Attribute
			var asked []kmip.AttributeName
			for _, tt := range tests {
				custom = append(custom, attr(tt.name, ttlv.Value{Tag: kmip.TagAttributeValue, Value: tt.value}))
				asked = append(asked, tt.name)
			}
			id := create(t, f, v, custom...)
			got := getAttrs(t, f, v, id, asked...)
			if len(got) != len(tests) {
				t.Fatalf("got %v, want %d custom attributes", names(got), len(tests))
			}
			for i, tt := range tests {
				if got[i].AttributeName != tt.name {
					t.Errorf("attribute %d is %q, want %q", i, got[i].AttributeName, tt.name)
					continue
				}
				if gv := customValue(t, got[i].AttributeValue); !sameValue(gv, tt.value) {
					t.Errorf("%s = %#v, want %#v", tt.name, gv, tt.value)
				}
			}
		})
	}
}

// sameValue compares TTLV primitive values as a client sees them.
func sameValue(a, b any) bool {
	switch bv := b.(type) {
	case time.Time:
		av, isTime := a.(time.Time)
		return isTime && av.Equal(bv)
	case []byte:
		av, isBytes := a.([]byte)
		return isBytes && bytes.Equal(av, bv)
	case *big.Int:
		av, isBig := a.(*big.Int)
		return isBig && av.Cmp(bv) == 0
	case ttlv.Struct:
		av, isStruct := a.(ttlv.Struct)
		if !isStruct || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i].Tag != bv[i].Tag || !sameValue(av[i].Value, bv[i].Value) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestCreateServerAttributes(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4, attr(kmip.AttributeNameName, kmip.Name{NameValue: "k1", NameType: kmip.NameTypeUninterpretedTextString}))
	attrs := getAttrs(t, f, kmip.V1_4, id)
	want := map[kmip.AttributeName]any{
		kmip.AttributeNameUniqueIdentifier: id,
		kmip.AttributeNameObjectType:       kmip.ObjectTypeSymmetricKey,
		kmip.AttributeNameState:            kmip.StatePreActive,
		kmip.AttributeNameInitialDate:      kmiptest.Epoch,
		kmip.AttributeNameLastChangeDate:   kmiptest.Epoch,
		kmip.AttributeNameName:             kmip.Name{NameValue: "k1", NameType: kmip.NameTypeUninterpretedTextString},
	}
	for name, w := range want {
		got, found := value(attrs, name)
		if !found || !sameValue(got, w) {
			t.Errorf("%s = %v (present %v), want %v", name, got, found, w)
		}
	}
	for _, name := range []kmip.AttributeName{kmip.AttributeNameDigest, kmip.AttributeNameFresh, kmip.AttributeNameOriginalCreationDate} {
		if _, found := value(attrs, name); !found {
			t.Errorf("%s missing from %v", name, names(attrs))
		}
	}
}
