package kmip

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/fsm"
)

// attrSpec is what KMIP 1.0–1.4 §3 says about one standard attribute, as
// this server applies it. The spec's "Initially set by", "Modifiable by
// client", "Deletable by client" and "Multiple instances permitted" rows
// become create/add, modify, delete and multi.
type attrSpec struct {
	name       kmip.AttributeName
	since      kmip.ProtocolVersion // first version that defines it
	until      kmip.ProtocolVersion // last version that defines it; zero: still defined in 1.4
	deprecated kmip.ProtocolVersion // first version that deprecates it; zero: never
	create     bool                 // a client may supply it with Create, Register or a template
	add        bool                 // a client may add it later ("Initially set by: Client")
	modify     bool                 // "Modifiable by client"
	delete     bool                 // "Deletable by client"
	multi      bool                 // "Multiple instances permitted"
	// states, when set, are the only states in which a client may add or
	// modify the attribute. fsm/attributes.go enforces them when the
	// command is applied; this copy documents them and is tested against
	// the state machine's behaviour.
	states []kmip.State
	// note explains a rule enforced elsewhere, for the feature table.
	note string
}

var (
	v10 = kmip.V1_0
	v11 = kmip.V1_1
	v12 = kmip.V1_2
	v13 = kmip.V1_3
	v14 = kmip.V1_4
)

// Rule sets shared by many attributes.
var (
	setByServer   = attrSpec{}                                                    // set by the server alone
	setOnCreation = attrSpec{create: true}                                        // given with the creating request, then fixed
	setOnce       = attrSpec{create: true, add: true}                             // set once by the client, then fixed
	clientOwned   = attrSpec{create: true, add: true, modify: true, delete: true} // the client's to change
)

// attrRule names a rule set for one attribute; opts adjust it.
func attrRule(base attrSpec, name kmip.AttributeName, since kmip.ProtocolVersion, opts ...func(*attrSpec)) attrSpec {
	base.name, base.since = name, since
	for _, o := range opts {
		o(&base)
	}
	return base
}

// Options of attrRule.
func multiInstance(s *attrSpec)  { s.multi = true }
func clientModifies(s *attrSpec) { s.modify = true }

func deprecatedIn(v kmip.ProtocolVersion) func(*attrSpec) {
	return func(s *attrSpec) { s.deprecated = v }
}

func changeableIn(states ...kmip.State) func(*attrSpec) {
	return func(s *attrSpec) { s.states = states }
}

func ruleNote(note string) func(*attrSpec) {
	return func(s *attrSpec) { s.note = note }
}

// attrTable lists every standard attribute of KMIP 1.0–1.4 in the order of
// KMIP 1.4 §3. No 1.x version removes an attribute: the ones deprecated in
// 1.1 and 1.3 are still defined up to 1.4, and the 1.1+ vectors return the
// deprecated Certificate Identifier, Subject and Issuer (TC-132-11/12).
var attrTable = []attrSpec{
	// §3.1–3.5: identity and the key's algorithm and length. The client
	// names algorithm and length in Create; the server sets them from the
	// request or the key block, and nobody changes them afterwards.
	attrRule(setByServer, kmip.AttributeNameUniqueIdentifier, v10),
	attrRule(clientOwned, kmip.AttributeNameName, v10, multiInstance),
	attrRule(setByServer, kmip.AttributeNameObjectType, v10),
	attrRule(setOnCreation, kmip.AttributeNameCryptographicAlgorithm, v10),
	attrRule(setOnCreation, kmip.AttributeNameCryptographicLength, v10),
	// §3.6–3.7: parameters are the client's; domain parameters only matter
	// when a key pair is generated, so they are given with the request.
	attrRule(clientOwned, kmip.AttributeNameCryptographicParameters, v10, multiInstance),
	attrRule(setOnCreation, kmip.AttributeNameCryptographicDomainParameters, v10),
	// §3.8–3.16: derived by the server from a certificate; the 1.0
	// Certificate Identifier/Subject/Issuer are deprecated since 1.1 in
	// favour of the X.509 ones. A PGP certificate may carry several
	// Digital Signature Algorithms (1.2).
	attrRule(setByServer, kmip.AttributeNameCertificateType, v10),
	attrRule(setByServer, kmip.AttributeNameCertificateLength, v11),
	attrRule(setByServer, kmip.AttributeNameX509CertificateIdentifier, v11),
	attrRule(setByServer, kmip.AttributeNameX509CertificateSubject, v11),
	attrRule(setByServer, kmip.AttributeNameX509CertificateIssuer, v11),
	attrRule(setByServer, kmip.AttributeNameCertificateIdentifier, v10, deprecatedIn(v11)),
	attrRule(setByServer, kmip.AttributeNameCertificateSubject, v10, deprecatedIn(v11)),
	attrRule(setByServer, kmip.AttributeNameCertificateIssuer, v10, deprecatedIn(v11)),
	attrRule(setByServer, kmip.AttributeNameDigitalSignatureAlgorithm, v11, multiInstance),
	// §3.17: one digest per hashing algorithm and format, computed here.
	attrRule(setByServer, kmip.AttributeNameDigest, v10, multiInstance),
	// §3.18–3.20: "Initially set by: Server or Client", "Modifiable by
	// client: No", "Deletable by client: No". Operation Policy Name is
	// deprecated since 1.3; Lease Time is the server's alone.
	attrRule(setOnce, kmip.AttributeNameOperationPolicyName, v10, deprecatedIn(v13)),
	attrRule(setOnce, kmip.AttributeNameCryptographicUsageMask, v10),
	attrRule(setByServer, kmip.AttributeNameLeaseTime, v10),
	// §3.21: the client sets and corrects the total (and unit) as long as no
	// Get Usage Allocation has consumed any of it; the count is the server's
	// (see usageLimits).
	attrRule(clientOwned, kmip.AttributeNameUsageLimits, v10, ruleNote("the server keeps the count; no change once usage was allocated")),
	// §3.22–3.23: the life-cycle state and creation date are the server's.
	attrRule(setByServer, kmip.AttributeNameState, v10),
	attrRule(setByServer, kmip.AttributeNameInitialDate, v10),
	// §3.24–3.27: life-cycle dates, changeable by the client only in some
	// states and never deleted. fsm/attributes.go (stateBound) allows
	// Activation and Process Start Date while Pre-Active, Deactivation and
	// Protect Stop Date while Pre-Active or Active.
	attrRule(setOnce, kmip.AttributeNameActivationDate, v10, clientModifies, changeableIn(kmip.StatePreActive)),
	attrRule(setOnce, kmip.AttributeNameProcessStartDate, v10, clientModifies, changeableIn(kmip.StatePreActive)),
	attrRule(setOnce, kmip.AttributeNameProtectStopDate, v10, clientModifies, changeableIn(kmip.StatePreActive, kmip.StateActive)),
	attrRule(setOnce, kmip.AttributeNameDeactivationDate, v10, clientModifies, changeableIn(kmip.StatePreActive, kmip.StateActive)),
	// §3.28–3.32: set by Destroy, Revoke and Archive.
	attrRule(setByServer, kmip.AttributeNameDestroyDate, v10),
	attrRule(setByServer, kmip.AttributeNameCompromiseOccurrenceDate, v10),
	attrRule(setByServer, kmip.AttributeNameCompromiseDate, v10),
	attrRule(setByServer, kmip.AttributeNameRevocationReason, v10),
	attrRule(setByServer, kmip.AttributeNameArchiveDate, v10),
	// §3.33–3.34: a client puts an object into groups and may mark it
	// fresh, but neither modifies nor deletes either afterwards.
	attrRule(setOnce, kmip.AttributeNameObjectGroup, v10, multiInstance),
	attrRule(setOnce, kmip.AttributeNameFresh, v11),
	// §3.35–3.37: links, application data and contact are the client's.
	attrRule(clientOwned, kmip.AttributeNameLink, v10, multiInstance),
	attrRule(clientOwned, kmip.AttributeNameApplicationSpecificInformation, v10, multiInstance),
	attrRule(clientOwned, kmip.AttributeNameContactInformation, v10),
	// §3.38.
	attrRule(setByServer, kmip.AttributeNameLastChangeDate, v10),
	// §3.40–3.43 (KMIP 1.2): alternative names are the client's; where the
	// key value lives and when the object was first made are stated once.
	attrRule(clientOwned, kmip.AttributeNameAlternativeName, v12, multiInstance),
	attrRule(setByServer, kmip.AttributeNameKeyValuePresent, v12),
	attrRule(setOnce, kmip.AttributeNameKeyValueLocation, v12, multiInstance),
	attrRule(setOnce, kmip.AttributeNameOriginalCreationDate, v12),
	// §3.44 (KMIP 1.3): the generator a key was made with; a client
	// registering a key may describe its own.
	attrRule(setOnce, kmip.AttributeNameRandomNumberGenerator, v13),
	// §3.45–3.51 (KMIP 1.4). Sensitive and Extractable are modifiable but
	// not deletable; checkValue lets them move only towards protection, so
	// that Always Sensitive and Never Extractable, set at creation, stay
	// true statements.
	attrRule(clientOwned, kmip.AttributeNamePKCS_12FriendlyName, v14),
	attrRule(clientOwned, kmip.AttributeNameDescription, v14),
	attrRule(clientOwned, kmip.AttributeNameComment, v14),
	attrRule(setOnce, kmip.AttributeNameSensitive, v14, clientModifies, ruleNote("may only become true")),
	attrRule(setByServer, kmip.AttributeNameAlwaysSensitive, v14),
	attrRule(setOnce, kmip.AttributeNameExtractable, v14, clientModifies, ruleNote("may only become false")),
	attrRule(setByServer, kmip.AttributeNameNeverExtractable, v14),
}

// attrSpecs indexes attrTable by name.
var attrSpecs = func() map[kmip.AttributeName]attrSpec {
	m := make(map[kmip.AttributeName]attrSpec, len(attrTable))
	for _, s := range attrTable {
		if _, dup := m[s.name]; dup {
			panic(fmt.Sprintf("kmip: attribute %q listed twice", s.name))
		}
		m[s.name] = s
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
	if !ok || before(v, spec.since) {
		return false
	}
	return spec.until == (kmip.ProtocolVersion{}) || !before(spec.until, v)
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
		if seen[a.AttributeName] && !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].multi {
			return errorf(kmip.ResultReasonInvalidField, "attribute %q may appear only once", truncate(string(a.AttributeName)))
		}
		seen[a.AttributeName] = true
		if err := checkName(a.AttributeName, v); err != nil {
			return err
		}
		if !a.AttributeName.IsCustom() && !attrSpecs[a.AttributeName].create {
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
