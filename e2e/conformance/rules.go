package conformance

import (
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// itemRules says which values of one response batch item are random by
// nature, and which payload items are compared in any order.
type itemRules struct {
	op        kmip.Operation
	relaxKey  bool // key material, digests and big integers of a server-generated key
	serverKey bool // the operation used a key the server generated
	serverIV  bool // Encrypt without an IV from the client: the server chose it

	unordered    bool         // payload items are matched in any order
	unorderedTag int          // ... only the items with this tag (0: all)
	extra        bool         // ... and the server may list more than recorded
	offered      []ttlv.Value // Discover Versions: the versions the client listed
	message      string       // the server's Result Message, shown with a wrong Result Status
}

// rules derives the rules of the n-th response batch item. wantItem is the
// recorded item; got the whole actual response message.
func (w *walker) rules(n int, wantItem, got ttlv.Value) *itemRules {
	r := &itemRules{}
	if n < len(w.messages) {
		r.message = w.messages[n]
	}
	op, ok := child(fields(wantItem), kmip.TagOperation)
	if e, isEnum := op.Value.(ttlv.Enum); ok && isEnum {
		r.op = kmip.Operation(e)
	}
	var reqPayload, gotPayload ttlv.Value
	if items := childrenWithTag(w.req, kmip.TagBatchItem); n < len(items) {
		reqPayload, _ = child(fields(items[n]), kmip.TagRequestPayload)
	}
	if items := childrenWithTag(got, kmip.TagBatchItem); n < len(items) {
		gotPayload, _ = child(fields(items[n]), kmip.TagResponsePayload)
	}
	r.serverKey = w.createdID(gotPayload, kmip.TagUniqueIdentifier) || w.createdID(reqPayload, kmip.TagUniqueIdentifier)

	switch r.op {
	case kmip.OperationGet, kmip.OperationGetAttributes, kmip.OperationExport:
		// A key wrapped under a server-generated key is random too.
		r.relaxKey = r.serverKey ||
			w.createdID(reqPayload, kmip.TagKeyWrappingSpecification, kmip.TagEncryptionKeyInformation, kmip.TagUniqueIdentifier) ||
			w.createdID(reqPayload, kmip.TagKeyWrappingSpecification, kmip.TagMACSignatureKeyInformation, kmip.TagUniqueIdentifier)
		if r.op == kmip.OperationGetAttributes {
			r.unordered, r.unorderedTag = true, kmip.TagAttribute
		}
	case kmip.OperationEncrypt:
		_, hasIV := child(fields(reqPayload), kmip.TagIVCounterNonce)
		r.serverIV = !hasIV
	case kmip.OperationDiscoverVersions:
		// A server MAY support more versions, operations or object types
		// than the recording server.
		r.unordered, r.extra = true, true
		r.offered = childrenWithTag(reqPayload, kmip.TagProtocolVersion)
	case kmip.OperationQuery:
		r.unordered, r.extra = true, true
	case kmip.OperationGetAttributeList:
		// The order of attributes is not defined by KMIP; each recording
		// server used its own.
		r.unordered, r.unorderedTag = true, kmip.TagAttributeName
	}
	return r
}

// createdID reports whether the text at the given path below v names an
// object the server generated.
func (w *walker) createdID(v ttlv.Value, tags ...int) bool {
	f, ok := path(v, tags...)
	if !ok {
		return false
	}
	id, _ := f.Value.(string)
	return w.s.created[id]
}

// lenRule is how a random value is checked.
type lenRule int

const (
	exact   lenRule = iota // not random: compared exactly
	sameLen                // same length (raw keys, digests, IVs, RNG output)
	nearLen                // about the same length (DER encodings, big integers, signatures)
	anyLen                 // anything of the right type
)

func (r lenRule) String() string {
	switch r {
	case sameLen:
		return "length must match"
	case nearLen:
		return "length must be close"
	case anyLen:
		return "any value"
	}
	return "exact"
}

func (r lenRule) ok(want, got int) bool {
	switch r {
	case sameLen:
		return want == got
	case nearLen:
		// DER integers lose a leading byte now and then; an RSA-2048
		// PKCS#1 private key varies by a few bytes between keys.
		slack := max(16, want/10)
		return got >= want-slack && got <= want+slack && got > 0
	case anyLen:
		return true
	}
	return false
}

// relaxed returns how a leaf with this tag and type is checked here.
func (c ctx) relaxed(tag int, typ ttlv.Type) lenRule {
	r := c.item
	if r == nil {
		return exact
	}
	if r.op == kmip.OperationQuery && tag == kmip.TagVendorIdentification {
		return anyLen
	}
	if typ == ttlv.TypeBigInteger {
		if r.relaxKey {
			return nearLen
		}
		return exact
	}
	if typ != ttlv.TypeByteString {
		return exact
	}
	switch {
	case r.relaxKey && c.inKeyMaterial:
		if c.rawFormat {
			return sameLen
		}
		return nearLen
	case r.relaxKey && tag == kmip.TagDigestValue:
		return sameLen
	case r.relaxKey && tag == kmip.TagCertificateValue:
		return nearLen
	case r.op == kmip.OperationEncrypt && tag == kmip.TagIVCounterNonce && r.serverIV:
		return sameLen
	case r.op == kmip.OperationEncrypt && (r.serverKey || r.serverIV) &&
		(tag == kmip.TagData || tag == kmip.TagAuthenticatedEncryptionTag):
		return sameLen
	case r.op == kmip.OperationRNGRetrieve && tag == kmip.TagData:
		return sameLen
	case tag == kmip.TagSignatureData:
		// PSS and ECDSA signatures differ on every call.
		return nearLen
	case tag == kmip.TagMACData && r.serverKey:
		return sameLen
	}
	return exact
}
