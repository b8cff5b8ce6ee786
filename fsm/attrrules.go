package fsm

import (
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
)

// AttrRule is what KMIP 1.0–1.4 §3 says about one standard attribute, as
// this server applies it. The spec's "Initially set by", "Modifiable by
// client", "Deletable by client" and "Multiple instances permitted" rows
// become Create/Add, Modify, Delete and Multi. The front end checks a
// client's request against the client rules; Apply enforces what holds for
// every command (Store, Fixed, States, Indexed). Which protocol versions
// define an attribute is the front end's business (kmip/attrs.go).
type AttrRule struct {
	Name   kmip.AttributeName
	Create bool // a client may supply it with Create, Register or a template
	Add    bool // a client may add it later ("Initially set by: Client")
	Modify bool // "Modifiable by client"
	Delete bool // "Deletable by client"
	Multi  bool // "Multiple instances permitted"
	// States, when set, are the only states in which the attribute may be
	// added, modified or deleted.
	States []kmip.State
	// Store: Create sets it itself, whatever the command carries, and no
	// command changes it ("SHALL always be set by the server").
	Store bool
	// Fixed: the creating command sets it and no command changes it.
	Fixed bool
	// Indexed: the store's indexes rely on a single instance; Apply refuses
	// an object that would hold two.
	Indexed bool
	// Note explains a rule enforced elsewhere, for the feature table.
	Note string
}

// Rule sets shared by many attributes.
var (
	setByServer   = AttrRule{}                                                    // set by the server alone
	setOnCreation = AttrRule{Create: true}                                        // given with the creating request, then fixed
	setOnce       = AttrRule{Create: true, Add: true}                             // set once by the client, then fixed
	clientOwned   = AttrRule{Create: true, Add: true, Modify: true, Delete: true} // the client's to change
)

// rule names a rule set for one attribute; opts adjust it.
func rule(base AttrRule, name kmip.AttributeName, opts ...func(*AttrRule)) AttrRule {
	base.Name = name
	for _, o := range opts {
		o(&base)
	}
	return base
}

// Options of rule.
func multi(r *AttrRule)          { r.Multi = true }
func clientModifies(r *AttrRule) { r.Modify = true }
func storeSets(r *AttrRule)      { r.Store = true }
func fixed(r *AttrRule)          { r.Fixed = true }
func indexed(r *AttrRule)        { r.Indexed = true }

func changeableIn(states ...kmip.State) func(*AttrRule) {
	return func(r *AttrRule) { r.States = states }
}

func note(n string) func(*AttrRule) {
	return func(r *AttrRule) { r.Note = n }
}

// attrRules lists every standard attribute of KMIP 1.0–1.4 in the order of
// KMIP 1.4 §3. It is the one place these rules are written.
var attrRules = []AttrRule{
	// §3.1–3.5: identity and the key's algorithm and length. The client
	// names algorithm and length in Create; the server sets them from the
	// request or the key block, and nobody changes them afterwards.
	rule(setByServer, kmip.AttributeNameUniqueIdentifier, storeSets),
	rule(clientOwned, kmip.AttributeNameName, multi),
	rule(setByServer, kmip.AttributeNameObjectType, fixed, indexed),
	rule(setOnCreation, kmip.AttributeNameCryptographicAlgorithm, indexed),
	rule(setOnCreation, kmip.AttributeNameCryptographicLength, indexed),
	// §3.6–3.7: parameters are the client's; domain parameters only matter
	// when a key pair is generated, so they are given with the request.
	rule(clientOwned, kmip.AttributeNameCryptographicParameters, multi),
	rule(setOnCreation, kmip.AttributeNameCryptographicDomainParameters),
	// §3.8–3.16: derived by the server from a certificate. A PGP
	// certificate may carry several Digital Signature Algorithms (1.2).
	rule(setByServer, kmip.AttributeNameCertificateType),
	rule(setByServer, kmip.AttributeNameCertificateLength),
	rule(setByServer, kmip.AttributeNameX509CertificateIdentifier),
	rule(setByServer, kmip.AttributeNameX509CertificateSubject),
	rule(setByServer, kmip.AttributeNameX509CertificateIssuer),
	rule(setByServer, kmip.AttributeNameCertificateIdentifier),
	rule(setByServer, kmip.AttributeNameCertificateSubject),
	rule(setByServer, kmip.AttributeNameCertificateIssuer),
	rule(setByServer, kmip.AttributeNameDigitalSignatureAlgorithm, multi),
	// §3.17: one digest per hashing algorithm and format, computed here.
	rule(setByServer, kmip.AttributeNameDigest, multi),
	// §3.18–3.20: "Initially set by: Server or Client", "Modifiable by
	// client: No", "Deletable by client: No". Lease Time is the server's
	// alone.
	rule(setOnce, kmip.AttributeNameOperationPolicyName),
	rule(setOnce, kmip.AttributeNameCryptographicUsageMask),
	rule(setByServer, kmip.AttributeNameLeaseTime),
	// §3.21: the client sets and corrects the total (and unit) as long as no
	// Get Usage Allocation has consumed any of it; the count is the server's.
	rule(clientOwned, kmip.AttributeNameUsageLimits, note("the server keeps the count; no change once usage was allocated")),
	// §3.22–3.23: the life-cycle state and creation date are the store's.
	rule(setByServer, kmip.AttributeNameState, storeSets),
	rule(setByServer, kmip.AttributeNameInitialDate, storeSets),
	// §3.24–3.27: life-cycle dates, changeable by the client only in some
	// states ("only while in Pre-Active state", "Pre-Active or Active") and
	// never deleted.
	rule(setOnce, kmip.AttributeNameActivationDate, clientModifies, changeableIn(kmip.StatePreActive), indexed),
	rule(setOnce, kmip.AttributeNameProcessStartDate, clientModifies, changeableIn(kmip.StatePreActive)),
	rule(setOnce, kmip.AttributeNameProtectStopDate, clientModifies, changeableIn(kmip.StatePreActive, kmip.StateActive)),
	rule(setOnce, kmip.AttributeNameDeactivationDate, clientModifies, changeableIn(kmip.StatePreActive, kmip.StateActive), indexed),
	// §3.28–3.32: set by Destroy, Revoke and Archive, never by Create.
	rule(setByServer, kmip.AttributeNameDestroyDate, storeSets),
	rule(setByServer, kmip.AttributeNameCompromiseOccurrenceDate, storeSets),
	rule(setByServer, kmip.AttributeNameCompromiseDate, storeSets),
	rule(setByServer, kmip.AttributeNameRevocationReason, storeSets),
	rule(setByServer, kmip.AttributeNameArchiveDate, storeSets),
	// §3.33–3.34: a client puts an object into groups and may mark it
	// fresh, but neither modifies nor deletes either afterwards.
	rule(setOnce, kmip.AttributeNameObjectGroup, multi),
	rule(setOnce, kmip.AttributeNameFresh),
	// §3.35–3.37: links, application data and contact are the client's.
	rule(clientOwned, kmip.AttributeNameLink, multi),
	rule(clientOwned, kmip.AttributeNameApplicationSpecificInformation, multi),
	rule(clientOwned, kmip.AttributeNameContactInformation),
	// §3.38.
	rule(setByServer, kmip.AttributeNameLastChangeDate, storeSets),
	// §3.40–3.43 (KMIP 1.2): alternative names are the client's; where the
	// key value lives and when the object was first made are stated once.
	rule(clientOwned, kmip.AttributeNameAlternativeName, multi),
	rule(setByServer, kmip.AttributeNameKeyValuePresent),
	rule(setOnce, kmip.AttributeNameKeyValueLocation, multi),
	rule(setOnce, kmip.AttributeNameOriginalCreationDate),
	// §3.44 (KMIP 1.3): the generator a key was made with; a client
	// registering a key may describe its own.
	rule(setOnce, kmip.AttributeNameRandomNumberGenerator),
	// §3.45–3.51 (KMIP 1.4). Sensitive and Extractable are modifiable but
	// not deletable; the front end lets them move only towards protection,
	// so that Always Sensitive and Never Extractable, set at creation, stay
	// true statements.
	rule(clientOwned, kmip.AttributeNamePKCS_12FriendlyName),
	rule(clientOwned, kmip.AttributeNameDescription),
	rule(clientOwned, kmip.AttributeNameComment),
	rule(setOnce, kmip.AttributeNameSensitive, clientModifies, note("may only become true")),
	rule(setByServer, kmip.AttributeNameAlwaysSensitive),
	rule(setOnce, kmip.AttributeNameExtractable, clientModifies, note("may only become false")),
	rule(setByServer, kmip.AttributeNameNeverExtractable),
}

// attrRuleIndex indexes attrRules by name.
var attrRuleIndex = func() map[kmip.AttributeName]int {
	m := make(map[kmip.AttributeName]int, len(attrRules))
	for i, r := range attrRules {
		if _, dup := m[r.Name]; dup {
			panic(fmt.Sprintf("fsm: attribute %q listed twice", r.Name))
		}
		m[r.Name] = i
	}
	return m
}()

// AttrRules returns the rules of every standard attribute, in the order of
// KMIP 1.4 §3.
func AttrRules() []AttrRule {
	out := slices.Clone(attrRules)
	for i := range out {
		out[i].States = slices.Clone(out[i].States)
	}
	return out
}

// LookupAttrRule returns the rule of a standard attribute; false for
// custom attributes and names KMIP does not define.
func LookupAttrRule(name kmip.AttributeName) (AttrRule, bool) {
	i, ok := attrRuleIndex[name]
	if !ok {
		return AttrRule{}, false
	}
	return attrRules[i], true
}

// namesWhere lists, in table order, the attributes whose rule has keep.
func namesWhere(keep func(AttrRule) bool) []kmip.AttributeName {
	var out []kmip.AttributeName
	for _, r := range attrRules {
		if keep(r) {
			out = append(out, r.Name)
		}
	}
	return out
}

// Views of the table that Apply reads.
var (
	// serverManaged: Create sets these itself, whatever the command carries.
	serverManaged = namesWhere(func(r AttrRule) bool { return r.Store })
	// protected attributes are owned by the store: no command may change
	// them.
	protected = namesWhere(func(r AttrRule) bool { return r.Store || r.Fixed })
	// singleInstance attributes may appear at most once; the store checks
	// those its indexes rely on.
	singleInstance = namesWhere(func(r AttrRule) bool { return r.Indexed })
)

// changeableStates returns the states in which name may be changed; false
// when any state allows it.
func changeableStates(name kmip.AttributeName) ([]kmip.State, bool) {
	r, ok := LookupAttrRule(name)
	if !ok || len(r.States) == 0 {
		return nil, false
	}
	return r.States, true
}
