package main

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ovh/kmip-go"
)

// valueKind is how `key attr add|modify` reads a value from the command
// line.
type valueKind string

const (
	kindText     valueKind = "text"
	kindInteger  valueKind = "integer"
	kindLong     valueKind = "long"
	kindBoolean  valueKind = "boolean"
	kindDate     valueKind = "date"
	kindBytes    valueKind = "bytes"
	kindInterval valueKind = "interval"
	kindName     valueKind = "name"
	kindUsage    valueKind = "usage"
	kindAlg      valueKind = "algorithm"
	kindLink     valueKind = "link"
	kindAppInfo  valueKind = "application"
	kindAltName  valueKind = "alternative-name"
)

// customKinds are the --type values for custom (x-, y-) attributes, whose
// type the client chooses.
var customKinds = []valueKind{kindText, kindInteger, kindLong, kindBoolean, kindDate, kindBytes, kindInterval}

// attrKinds gives the value kind of each standard attribute a client may
// add or modify (KMIP 1.4 §3); the server decides which it accepts in which
// state. It is the one place that knows how kmsctl spells each value.
var attrKinds = map[kmip.AttributeName]valueKind{
	kmip.AttributeNameName:                           kindName,
	kmip.AttributeNameObjectGroup:                    kindText,
	kmip.AttributeNameContactInformation:             kindText,
	kmip.AttributeNameOperationPolicyName:            kindText,
	kmip.AttributeNameDescription:                    kindText,
	kmip.AttributeNameComment:                        kindText,
	kmip.AttributeNamePKCS_12FriendlyName:            kindText,
	kmip.AttributeNameCryptographicAlgorithm:         kindAlg,
	kmip.AttributeNameCryptographicLength:            kindInteger,
	kmip.AttributeNameCryptographicUsageMask:         kindUsage,
	kmip.AttributeNameActivationDate:                 kindDate,
	kmip.AttributeNameProcessStartDate:               kindDate,
	kmip.AttributeNameProtectStopDate:                kindDate,
	kmip.AttributeNameDeactivationDate:               kindDate,
	kmip.AttributeNameOriginalCreationDate:           kindDate,
	kmip.AttributeNameFresh:                          kindBoolean,
	kmip.AttributeNameSensitive:                      kindBoolean,
	kmip.AttributeNameExtractable:                    kindBoolean,
	kmip.AttributeNameLink:                           kindLink,
	kmip.AttributeNameApplicationSpecificInformation: kindAppInfo,
	kmip.AttributeNameAlternativeName:                kindAltName,
}

// valueHelp describes each kind's spelling for --help and errors.
var valueHelp = map[valueKind]string{
	kindText:     "text",
	kindInteger:  "a 32-bit integer",
	kindLong:     "a 64-bit integer",
	kindBoolean:  "true or false",
	kindDate:     "an RFC 3339 date, e.g. 2030-01-02T15:04:05Z, or now",
	kindBytes:    "hex bytes",
	kindInterval: "a duration, e.g. 90s or 2h",
	kindName:     "the name (an uninterpreted text string)",
	kindUsage:    "a comma-separated list of usages, e.g. encrypt,decrypt",
	kindAlg:      "an algorithm name, e.g. AES or RSA",
	kindLink:     "LINK-TYPE:ID, e.g. public-key:ID (link types: " + strings.Join(enumWords[kmip.LinkType](), ", ") + ")",
	kindAppInfo:  "NAMESPACE:DATA, e.g. ssl:example.com",
	kindAltName:  "[TYPE:]VALUE, TYPE one of " + strings.Join(enumWords[kmip.AlternativeNameType](), ", ") + " (default uninterpreted-text-string)",
}

// resolveAttrName accepts the KMIP name in any case; "x-" and "y-" names
// are kept as given.
func resolveAttrName(s string) (kmip.AttributeName, error) {
	n := kmip.AttributeName(s)
	if n.IsCustom() {
		return n, nil
	}
	for _, known := range kmip.AllAttributeNames {
		if normalize(string(known)) == normalize(s) {
			return known, nil
		}
	}
	return "", fmt.Errorf("unknown attribute %q: use a KMIP attribute name such as \"Object Group\", or a custom name starting with x-", s)
}

// kindOf returns how a value of the attribute is read. typ is --type,
// which only custom attributes take.
func kindOf(name kmip.AttributeName, typ string) (valueKind, error) {
	if name.IsCustom() {
		if typ == "" {
			return kindText, nil
		}
		if k := valueKind(strings.ToLower(typ)); slices.Contains(customKinds, k) {
			return k, nil
		}
		words := make([]string, len(customKinds))
		for i, k := range customKinds {
			words[i] = string(k)
		}
		return "", fmt.Errorf("invalid --type %q: want %s", typ, strings.Join(words, ", "))
	}
	if typ != "" {
		return "", fmt.Errorf("--type applies to custom attributes (x-…) only: %q has a type of its own", name)
	}
	k, ok := attrKinds[name]
	if !ok {
		return "", fmt.Errorf("attribute %q is set by the server, not by a client", name)
	}
	return k, nil
}

// parseAttrValue reads s as a value of the kind.
func parseAttrValue(k valueKind, s string) (any, error) {
	v, err := parseKind(k, s)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q: want %s", s, valueHelp[k])
	}
	return v, nil
}

func parseKind(k valueKind, s string) (any, error) {
	switch k {
	case kindText:
		return s, nil
	case kindName:
		if s == "" {
			return nil, fmt.Errorf("empty name")
		}
		return kmip.Name{NameValue: s, NameType: kmip.NameTypeUninterpretedTextString}, nil
	case kindInteger:
		n, err := strconv.ParseInt(s, 0, 32)
		return int32(n), err
	case kindLong:
		return strconv.ParseInt(s, 0, 64)
	case kindBoolean:
		return strconv.ParseBool(s)
	case kindDate:
		if s == "now" {
			return time.Now().UTC().Truncate(time.Second), nil
		}
		return time.Parse(time.RFC3339, s)
	case kindBytes:
		return hex.DecodeString(strings.TrimPrefix(s, "0x"))
	case kindInterval:
		d, err := time.ParseDuration(s)
		if err == nil && (d < 0 || d%time.Second != 0 || d > (1<<32-1)*time.Second) {
			// An Interval is a 32-bit count of seconds (KMIP 1.4 §9.1.1.4).
			err = fmt.Errorf("not whole seconds")
		}
		return d, err
	case kindUsage:
		return parseUsage([]string{s})
	case kindAlg:
		return parseEnum("value", s, algAliases)
	case kindLink:
		typ, id, ok := strings.Cut(s, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("no id")
		}
		lt, err := parseEnum[kmip.LinkType]("value", strings.TrimSuffix(normalize(typ), "link")+"link", nil)
		return kmip.Link{LinkType: lt, LinkedObjectIdentifier: id}, err
	case kindAppInfo:
		ns, data, ok := strings.Cut(s, ":")
		if !ok || ns == "" {
			return nil, fmt.Errorf("no namespace")
		}
		return kmip.ApplicationSpecificInformation{ApplicationNamespace: ns, ApplicationData: data}, nil
	case kindAltName:
		alt := kmip.AlternativeName{AlternativeNameValue: s, AlternativeNameType: kmip.AlternativeNameTypeUninterpretedTextString}
		if typ, v, ok := strings.Cut(s, ":"); ok {
			if t, err := parseEnum[kmip.AlternativeNameType]("value", typ, nil); err == nil {
				alt = kmip.AlternativeName{AlternativeNameValue: v, AlternativeNameType: t}
			}
		}
		return alt, nil
	}
	return nil, fmt.Errorf("unknown kind %q", k)
}
