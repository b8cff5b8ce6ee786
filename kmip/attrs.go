package kmip

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
)

// attrSpec is the server's rule for one standard attribute (fsm.AttrRule:
// who may set it, single or multi-instance, in which states it changes,
// whether the store owns it) with the protocol versions that define it,
// which only the front end gates on.
type attrSpec struct {
	fsm.AttrRule
	since      kmip.ProtocolVersion // first version that defines it
	deprecated kmip.ProtocolVersion // first version that deprecates it; zero: never
}

var (
	v10 = kmip.V1_0
	v11 = kmip.V1_1
	v12 = kmip.V1_2
	v13 = kmip.V1_3
	v14 = kmip.V1_4
)

// attrVersion is when KMIP defines and deprecates an attribute.
type attrVersion struct{ since, deprecated kmip.ProtocolVersion }

// attrVersions gives every attribute of fsm.AttrRules its versions. No 1.x
// version removes an attribute: the ones deprecated in 1.1 and 1.3 are
// still defined up to 1.4, and the 1.1+ vectors return the deprecated
// Certificate Identifier, Subject and Issuer (TC-132-11/12).
var attrVersions = map[kmip.AttributeName]attrVersion{
	kmip.AttributeNameUniqueIdentifier:              {since: v10},
	kmip.AttributeNameName:                          {since: v10},
	kmip.AttributeNameObjectType:                    {since: v10},
	kmip.AttributeNameCryptographicAlgorithm:        {since: v10},
	kmip.AttributeNameCryptographicLength:           {since: v10},
	kmip.AttributeNameCryptographicParameters:       {since: v10},
	kmip.AttributeNameCryptographicDomainParameters: {since: v10},
	kmip.AttributeNameCertificateType:               {since: v10},
	kmip.AttributeNameCertificateLength:             {since: v11},
	kmip.AttributeNameX509CertificateIdentifier:     {since: v11},
	kmip.AttributeNameX509CertificateSubject:        {since: v11},
	kmip.AttributeNameX509CertificateIssuer:         {since: v11},
	// The 1.0 certificate attributes, deprecated in favour of the X.509
	// ones.
	kmip.AttributeNameCertificateIdentifier:          {since: v10, deprecated: v11},
	kmip.AttributeNameCertificateSubject:             {since: v10, deprecated: v11},
	kmip.AttributeNameCertificateIssuer:              {since: v10, deprecated: v11},
	kmip.AttributeNameDigitalSignatureAlgorithm:      {since: v11},
	kmip.AttributeNameDigest:                         {since: v10},
	kmip.AttributeNameOperationPolicyName:            {since: v10, deprecated: v13},
	kmip.AttributeNameCryptographicUsageMask:         {since: v10},
	kmip.AttributeNameLeaseTime:                      {since: v10},
	kmip.AttributeNameUsageLimits:                    {since: v10},
	kmip.AttributeNameState:                          {since: v10},
	kmip.AttributeNameInitialDate:                    {since: v10},
	kmip.AttributeNameActivationDate:                 {since: v10},
	kmip.AttributeNameProcessStartDate:               {since: v10},
	kmip.AttributeNameProtectStopDate:                {since: v10},
	kmip.AttributeNameDeactivationDate:               {since: v10},
	kmip.AttributeNameDestroyDate:                    {since: v10},
	kmip.AttributeNameCompromiseOccurrenceDate:       {since: v10},
	kmip.AttributeNameCompromiseDate:                 {since: v10},
	kmip.AttributeNameRevocationReason:               {since: v10},
	kmip.AttributeNameArchiveDate:                    {since: v10},
	kmip.AttributeNameObjectGroup:                    {since: v10},
	kmip.AttributeNameFresh:                          {since: v11},
	kmip.AttributeNameLink:                           {since: v10},
	kmip.AttributeNameApplicationSpecificInformation: {since: v10},
	kmip.AttributeNameContactInformation:             {since: v10},
	kmip.AttributeNameLastChangeDate:                 {since: v10},
	kmip.AttributeNameAlternativeName:                {since: v12},
	kmip.AttributeNameKeyValuePresent:                {since: v12},
	kmip.AttributeNameKeyValueLocation:               {since: v12},
	kmip.AttributeNameOriginalCreationDate:           {since: v12},
	kmip.AttributeNameRandomNumberGenerator:          {since: v13},
	kmip.AttributeNamePKCS_12FriendlyName:            {since: v14},
	kmip.AttributeNameDescription:                    {since: v14},
	kmip.AttributeNameComment:                        {since: v14},
	kmip.AttributeNameSensitive:                      {since: v14},
	kmip.AttributeNameAlwaysSensitive:                {since: v14},
	kmip.AttributeNameExtractable:                    {since: v14},
	kmip.AttributeNameNeverExtractable:               {since: v14},
}

// attrTable is fsm.AttrRules, in its order (KMIP 1.4 §3), with versions.
var attrTable = func() []attrSpec {
	rules := fsm.AttrRules()
	if len(rules) != len(attrVersions) {
		panic(fmt.Sprintf("kmip: %d attribute rules, %d attribute versions", len(rules), len(attrVersions)))
	}
	out := make([]attrSpec, len(rules))
	for i, r := range rules {
		v, ok := attrVersions[r.Name]
		if !ok {
			panic(fmt.Sprintf("kmip: attribute %q has no versions", r.Name))
		}
		out[i] = attrSpec{AttrRule: r, since: v.since, deprecated: v.deprecated}
	}
	return out
}()

// attrSpecs indexes attrTable by name.
var attrSpecs = func() map[kmip.AttributeName]attrSpec {
	m := make(map[kmip.AttributeName]attrSpec, len(attrTable))
	for _, s := range attrTable {
		m[s.Name] = s
	}
	return m
}()

func before(v, w kmip.ProtocolVersion) bool { return ttlv.CompareVersions(v, w) < 0 }

// definedIn reports whether version v defines the attribute. Custom
// attributes (x-, y-) exist in every version.
func definedIn(name kmip.AttributeName, v kmip.ProtocolVersion) bool {
	if name.IsCustom() {
		return true
	}
	spec, ok := attrSpecs[name]
	return ok && !before(v, spec.since)
}

// checkClientAttrs validates the attributes a client sends with Create or
// Register: each must be defined in the request's version and settable by a
// client at creation; custom attributes from clients must use the x-
// prefix. It also sets the Usage Limits Count the server owns. The bounds
// on attributes are the state machine's (fsm.MaxObjectAttrs,
// fsm.MaxAttrBytes), which Apply checks again.
func checkClientAttrs(attrs []kmip.Attribute, v kmip.ProtocolVersion) error {
	if len(attrs) > fsm.MaxObjectAttrs {
		return errorf(kmip.ResultReasonInvalidField, "too many attributes")
	}
	seen := map[kmip.AttributeName]bool{}
	for i := range attrs {
		a := &attrs[i]
		if seen[a.AttributeName] && !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].Multi {
			return errorf(kmip.ResultReasonInvalidField, "attribute %q may appear only once", truncate(string(a.AttributeName)))
		}
		seen[a.AttributeName] = true
		if err := checkName(a.AttributeName, v); err != nil {
			return err
		}
		if !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].Create {
			return errorf(kmip.ResultReasonPermissionDenied, "attribute %q is set by the server", a.AttributeName)
		}
		if err := checkShape(*a); err != nil {
			return err
		}
		if err := usageLimits(a); err != nil {
			return err
		}
	}
	return nil
}

// checkName accepts standard attributes defined in version v and x- custom
// attributes; y- attributes belong to the server (KMIP 1.4 §3.39).
func checkName(name kmip.AttributeName, v kmip.ProtocolVersion) error {
	if name.IsCustom() {
		if name[0] != 'x' {
			return errorf(kmip.ResultReasonPermissionDenied, "custom attribute %q: clients may only set x- attributes", truncate(string(name)))
		}
		if len(name) < 3 {
			return errorf(kmip.ResultReasonInvalidField, "custom attribute %q has no name after its prefix", name)
		}
		return nil
	}
	if !definedIn(name, v) {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q is not defined in KMIP %s", truncate(string(name)), v)
	}
	return nil
}

// checkShape rejects a missing value, a standard attribute whose value did
// not decode to its type, and an attribute too large to store.
func checkShape(a kmip.Attribute) error {
	if a.AttributeValue == nil {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q has no value", truncate(string(a.AttributeName)))
	}
	if _, generic := a.AttributeValue.(ttlv.Value); generic && !a.AttributeName.IsCustom() {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q has a value of the wrong type", a.AttributeName)
	}
	if n, ok := encodedLen(a); !ok || n > fsm.MaxAttrBytes {
		return errorf(kmip.ResultReasonInvalidField, "attribute %q is malformed or larger than %d bytes", truncate(string(a.AttributeName)), fsm.MaxAttrBytes)
	}
	if a.AttributeName == kmip.AttributeNameOperationPolicyName && a.AttributeValue != any(defaultOperationPolicy) {
		return errorf(kmip.ResultReasonInvalidField, "unknown operation policy: this server has one, %q (its access policy)", defaultOperationPolicy)
	}
	return nil
}

// defaultOperationPolicy is the one operation policy this server knows
// (KMIP 1.0–1.2 §3.18): who may do what is the replicated access policy,
// by client identity, whatever object it is.
const defaultOperationPolicy = "default"

// encodedLen is the size of the attribute as the state machine stores it;
// false when it cannot be encoded at all.
func encodedLen(a kmip.Attribute) (n int, ok bool) {
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	return len(fsm.EncodeAttribute(a)), true
}

// usageLimits sets the Usage Limits Count to the total: KMIP 1.4 §3.21 "The
// server SHALL ignore the Usage Limits Count value if the attribute is
// specified in an operation that creates a new object" and "The Usage Limits
// Count value SHALL NOT be set or modified by the client via the Add
// Attribute or Modify Attribute operations".
func usageLimits(a *kmip.Attribute) error {
	ul, ok := a.AttributeValue.(kmip.UsageLimits)
	if !ok || a.AttributeName != kmip.AttributeNameUsageLimits {
		return nil
	}
	if ul.UsageLimitsTotal <= 0 || ul.UsageLimitsUnit == 0 {
		return errorf(kmip.ResultReasonInvalidField, "Usage Limits needs a positive total and a unit")
	}
	total := ul.UsageLimitsTotal
	ul.UsageLimitsCount = &total
	a.AttributeValue = ul
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
