package kmip

import (
	"cmp"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// attrSpec is what the server knows about one standard attribute.
type attrSpec struct {
	since  kmip.ProtocolVersion // first version that defines it
	until  kmip.ProtocolVersion // last version that defines it; zero: still defined
	client bool                 // a client may set it on Create and Register
	multi  bool                 // several instances are allowed
	edit   bool                 // a client may add, modify and delete it later
}

var (
	v10 = kmip.V1_0
	v11 = kmip.V1_1
	v12 = kmip.V1_2
	v13 = kmip.V1_3
	v14 = kmip.V1_4
)

// attrSpecs covers every attribute of KMIP 1.0–1.4 (KMIP 1.4 §3).
var attrSpecs = map[kmip.AttributeName]attrSpec{
	kmip.AttributeNameUniqueIdentifier:               {since: v10},
	kmip.AttributeNameName:                           {since: v10, client: true, multi: true, edit: true},
	kmip.AttributeNameObjectType:                     {since: v10},
	kmip.AttributeNameCryptographicAlgorithm:         {since: v10, client: true},
	kmip.AttributeNameCryptographicLength:            {since: v10, client: true},
	kmip.AttributeNameCryptographicParameters:        {since: v10, client: true, multi: true, edit: true},
	kmip.AttributeNameCryptographicDomainParameters:  {since: v10, client: true},
	kmip.AttributeNameCertificateType:                {since: v10},
	kmip.AttributeNameCertificateIdentifier:          {since: v10},
	kmip.AttributeNameCertificateSubject:             {since: v10},
	kmip.AttributeNameCertificateIssuer:              {since: v10},
	kmip.AttributeNameDigest:                         {since: v10, multi: true},
	kmip.AttributeNameOperationPolicyName:            {since: v10, client: true, edit: true}, // deprecated in 1.3, still defined
	kmip.AttributeNameCryptographicUsageMask:         {since: v10, client: true},
	kmip.AttributeNameLeaseTime:                      {since: v10},
	kmip.AttributeNameUsageLimits:                    {since: v10, client: true},
	kmip.AttributeNameState:                          {since: v10},
	kmip.AttributeNameInitialDate:                    {since: v10},
	kmip.AttributeNameActivationDate:                 {since: v10, client: true, edit: true},
	kmip.AttributeNameProcessStartDate:               {since: v10, client: true, edit: true},
	kmip.AttributeNameProtectStopDate:                {since: v10, client: true, edit: true},
	kmip.AttributeNameDeactivationDate:               {since: v10, client: true, edit: true},
	kmip.AttributeNameDestroyDate:                    {since: v10},
	kmip.AttributeNameCompromiseOccurrenceDate:       {since: v10},
	kmip.AttributeNameCompromiseDate:                 {since: v10},
	kmip.AttributeNameRevocationReason:               {since: v10},
	kmip.AttributeNameArchiveDate:                    {since: v10},
	kmip.AttributeNameObjectGroup:                    {since: v10, client: true, multi: true, edit: true},
	kmip.AttributeNameLink:                           {since: v10, client: true, multi: true, edit: true},
	kmip.AttributeNameApplicationSpecificInformation: {since: v10, client: true, multi: true, edit: true},
	kmip.AttributeNameContactInformation:             {since: v10, client: true, edit: true},
	kmip.AttributeNameLastChangeDate:                 {since: v10},
	kmip.AttributeNameCertificateLength:              {since: v11},
	kmip.AttributeNameFresh:                          {since: v11, client: true},
	kmip.AttributeNameX509CertificateIdentifier:      {since: v11},
	kmip.AttributeNameX509CertificateSubject:         {since: v11},
	kmip.AttributeNameX509CertificateIssuer:          {since: v11},
	kmip.AttributeNameDigitalSignatureAlgorithm:      {since: v11},
	kmip.AttributeNameAlternativeName:                {since: v12, client: true, multi: true, edit: true},
	kmip.AttributeNameKeyValuePresent:                {since: v12},
	kmip.AttributeNameKeyValueLocation:               {since: v12, client: true, multi: true, edit: true},
	kmip.AttributeNameOriginalCreationDate:           {since: v12, client: true},
	kmip.AttributeNameRandomNumberGenerator:          {since: v13},
	kmip.AttributeNamePKCS_12FriendlyName:            {since: v14, client: true, edit: true},
	kmip.AttributeNameDescription:                    {since: v14, client: true, edit: true},
	kmip.AttributeNameComment:                        {since: v14, client: true, edit: true},
	kmip.AttributeNameSensitive:                      {since: v14, client: true, edit: true},
	kmip.AttributeNameAlwaysSensitive:                {since: v14},
	kmip.AttributeNameExtractable:                    {since: v14, client: true, edit: true},
	kmip.AttributeNameNeverExtractable:               {since: v14},
}

// definedIn reports whether version v defines the attribute. Custom
// attributes (x-, y-) exist in every version.
func definedIn(name kmip.AttributeName, v kmip.ProtocolVersion) bool {
	if name.IsCustom() {
		return true
	}
	spec, ok := attrSpecs[name]
	if !ok {
		return false
	}
	if ttlv.CompareVersions(v, spec.since) < 0 {
		return false
	}
	return spec.until == (kmip.ProtocolVersion{}) || ttlv.CompareVersions(v, spec.until) <= 0
}

// checkClientAttrs validates the attributes a client sends with Create or
// Register: each must be defined in the request's version and settable by a
// client; custom attributes from clients must use the x- prefix.
func checkClientAttrs(attrs []kmip.Attribute, v kmip.ProtocolVersion) error {
	seen := map[kmip.AttributeName]bool{}
	for _, a := range attrs {
		if seen[a.AttributeName] && !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].multi {
			return errorf(kmip.ResultReasonInvalidField, "attribute %q may appear only once", truncate(string(a.AttributeName)))
		}
		seen[a.AttributeName] = true
		if a.AttributeName.IsCustom() {
			if len(a.AttributeName) < 3 || a.AttributeName[0] != 'x' {
				return errorf(kmip.ResultReasonInvalidField, "custom attribute %q: clients may only set x- attributes", truncate(string(a.AttributeName)))
			}
			continue
		}
		if !definedIn(a.AttributeName, v) {
			return errorf(kmip.ResultReasonInvalidField, "attribute %q is not defined in KMIP %s", truncate(string(a.AttributeName)), v)
		}
		if !attrSpecs[a.AttributeName].client {
			return errorf(kmip.ResultReasonPermissionDenied, "attribute %q is set by the server", a.AttributeName)
		}
		if _, generic := a.AttributeValue.(ttlv.Value); generic {
			return errorf(kmip.ResultReasonInvalidField, "attribute %q has a value of the wrong type", a.AttributeName)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// leadingAttrs come first when all attributes are listed; the rest follow in
// name order.
var leadingAttrs = []kmip.AttributeName{
	kmip.AttributeNameUniqueIdentifier,
	kmip.AttributeNameObjectType,
	kmip.AttributeNameCryptographicAlgorithm,
	kmip.AttributeNameCryptographicLength,
}

func attrRank(name kmip.AttributeName) int {
	if i := slices.Index(leadingAttrs, name); i >= 0 {
		return i
	}
	return len(leadingAttrs)
}

// sortAttrs orders attributes for a full listing, keeping instances of one
// attribute in index order.
func sortAttrs(attrs []kmip.Attribute) {
	slices.SortStableFunc(attrs, func(a, b kmip.Attribute) int {
		if c := cmp.Compare(attrRank(a.AttributeName), attrRank(b.AttributeName)); c != 0 {
			return c
		}
		return cmp.Compare(a.AttributeName, b.AttributeName)
	})
}

// withIndexes numbers the instances of each attribute; index 0 is omitted as
// KMIP 1.4 §2.1.1 allows.
func withIndexes(attrs []kmip.Attribute) []kmip.Attribute {
	seen := map[kmip.AttributeName]int32{}
	out := make([]kmip.Attribute, len(attrs))
	for i, a := range attrs {
		idx := seen[a.AttributeName]
		seen[a.AttributeName] = idx + 1
		a.AttributeIndex = nil
		if idx > 0 {
			a.AttributeIndex = &idx
		}
		out[i] = a
	}
	return out
}
