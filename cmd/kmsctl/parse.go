package main

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// normalize makes "pre-active", "PreActive" and "pre_active" compare equal.
func normalize(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(s)
}

// kebab turns a registry name such as "PreActive", "CACompromise" or
// "HMAC_SHA256" into the flag spelling "pre-active", "ca-compromise",
// "hmac-sha256".
func kebab(name string) string {
	r := []rune(strings.ReplaceAll(name, "_", "-"))
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && r[i-1] != '-' {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (unicode.IsUpper(r[i-1]) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// parseEnum finds the enum value whose registered name matches s, ignoring
// case and separators. aliases adds spellings the registry lacks.
func parseEnum[T ~uint32](flag, s string, aliases map[string]T) (T, error) {
	n := normalize(s)
	if v, ok := aliases[n]; ok {
		return v, nil
	}
	var names []string
	for v, name := range ttlv.EnumValues[T]() {
		if normalize(name) == n {
			return v, nil
		}
		names = append(names, kebab(name))
	}
	for a := range aliases {
		names = append(names, a)
	}
	slices.Sort(names)
	return 0, fmt.Errorf("invalid --%s %q: want one of %s", flag, s, strings.Join(names, ", "))
}

// usageNames lists the Cryptographic Usage Mask flag names by bit.
func usageNames() []string {
	var names []string
	for i := range 31 {
		name := ttlv.BitmaskStr(kmip.CryptographicUsageMask(1<<i), "")
		if strings.HasPrefix(name, "0x") {
			break
		}
		names = append(names, name)
	}
	return names
}

// parseUsage parses "encrypt,decrypt,wrap-key" into a usage mask.
func parseUsage(list []string) (kmip.CryptographicUsageMask, error) {
	return parseUsageFlag("usage", list)
}

// parseUsageFlag is parseUsage for the flag named flag.
func parseUsageFlag(flag string, list []string) (kmip.CryptographicUsageMask, error) {
	names := usageNames()
	var mask kmip.CryptographicUsageMask
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			i := slices.IndexFunc(names, func(n string) bool { return normalize(n) == normalize(s) })
			if i < 0 {
				valid := make([]string, len(names))
				for j, n := range names {
					valid[j] = kebab(n)
				}
				return 0, fmt.Errorf("invalid --%s %q: want a comma-separated list of %s", flag, s, strings.Join(valid, ", "))
			}
			mask |= 1 << i
		}
	}
	return mask, nil
}

// symAlg is a symmetric algorithm that `key create` knows defaults for.
type symAlg struct {
	alg    kmip.CryptographicAlgorithm
	length int
	usage  kmip.CryptographicUsageMask
}

var (
	cipherUsage = kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
	macUsage    = kmip.CryptographicUsageMACGenerate | kmip.CryptographicUsageMACVerify
)

// symAlgs maps the normalized --alg spellings of `key create`.
var symAlgs = map[string]symAlg{
	"aes":  {kmip.CryptographicAlgorithmAES, 256, cipherUsage},
	"tdes": {kmip.CryptographicAlgorithm3DES, 168, cipherUsage},
	"3des": {kmip.CryptographicAlgorithm3DES, 168, cipherUsage},
	"des3": {kmip.CryptographicAlgorithm3DES, 168, cipherUsage},
	// The HMAC key length defaults to the digest size.
	"hmacsha1":   {kmip.CryptographicAlgorithmHMACSHA1, 160, macUsage},
	"hmacsha256": {kmip.CryptographicAlgorithmHMACSHA256, 256, macUsage},
	"hmacsha384": {kmip.CryptographicAlgorithmHMACSHA384, 384, macUsage},
	"hmacsha512": {kmip.CryptographicAlgorithmHMACSHA512, 512, macUsage},
}

func parseSymAlg(s string) (symAlg, error) {
	if a, ok := symAlgs[normalize(s)]; ok {
		return a, nil
	}
	return symAlg{}, fmt.Errorf("invalid --alg %q: want AES, TDES, HMAC-SHA1, HMAC-SHA256, HMAC-SHA384 or HMAC-SHA512", s)
}

// algAliases lets every command say TDES for the registry's DES3.
var algAliases = map[string]kmip.CryptographicAlgorithm{"tdes": kmip.CryptographicAlgorithm3DES, "3des": kmip.CryptographicAlgorithm3DES}

// objectTypeAliases accepts the short words of `key register --type`.
var objectTypeAliases = map[string]kmip.ObjectType{
	"symmetric": kmip.ObjectTypeSymmetricKey,
	"secret":    kmip.ObjectTypeSecretData,
	"opaque":    kmip.ObjectTypeOpaqueObject,
}

func nameAttr(name string) kmip.Attribute {
	return kmip.Attribute{
		AttributeName:  kmip.AttributeNameName,
		AttributeValue: kmip.Name{NameValue: name, NameType: kmip.NameTypeUninterpretedTextString},
	}
}

func attr(name kmip.AttributeName, value any) kmip.Attribute {
	return kmip.Attribute{AttributeName: name, AttributeValue: value}
}

// enumWords lists an enumeration's values in flag spelling, sorted.
func enumWords[T ~uint32]() []string {
	var words []string
	for _, name := range ttlv.EnumValues[T]() {
		words = append(words, kebab(name))
	}
	slices.Sort(words)
	return words
}
