package fsm

import (
	"errors"
	"fmt"
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrNotApplicable reports an operation that does not apply to the object:
// Re-key of something other than a symmetric key, an Offset for a key without
// an Activation Date, a usage allocation for an object without Usage Limits.
var ErrNotApplicable = errors.New("fsm: operation not applicable to the object")

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_REKEY, func() *kmsdpb.Rekey { return &kmsdpb.Rekey{} }, applyRekey)
}

// notInherited are the attributes of the existing key that the replacement
// does not copy (KMIP 1.4 §4.4, "Attributes requiring special handling"):
// they are set anew, recomputed, or not set at all.
var notInherited = []kmip.AttributeName{
	kmip.AttributeNameUniqueIdentifier,
	kmip.AttributeNameState,
	kmip.AttributeNameInitialDate,
	kmip.AttributeNameLastChangeDate,
	kmip.AttributeNameDestroyDate,
	kmip.AttributeNameCompromiseOccurrenceDate,
	kmip.AttributeNameCompromiseDate,
	kmip.AttributeNameRevocationReason,
	kmip.AttributeNameArchiveDate,
	kmip.AttributeNameDigest,
	kmip.AttributeNameLink,
	kmip.AttributeNameFresh,
	kmip.AttributeNameRandomNumberGenerator,
	kmip.AttributeNameOriginalCreationDate,
	kmip.AttributeNameKeyValuePresent,
	kmip.AttributeNameKeyValueLocation,
}

// shiftedDates keep their distance to the Activation Date when an Offset is
// given (KMIP 1.4 §4.4, "Computing New Dates from Offset during Re-key").
var shiftedDates = []kmip.AttributeName{
	kmip.AttributeNameProcessStartDate,
	kmip.AttributeNameProtectStopDate,
	kmip.AttributeNameDeactivationDate,
}

// applyRekey creates the replacement of a symmetric key and links both keys.
// Returns the ids of the replacement and of the existing key, in that order.
func applyRekey(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Rekey) ([]string, error) {
	oldID, p := body.GetOldId(), body.GetReplacement()
	if oldID == "" || p.GetId() == "" || len(p.GetSealedMaterial()) == 0 {
		return nil, fmt.Errorf("%w: re-key needs the existing id, a replacement id and material", ErrMalformed)
	}
	if c.cmd.GetActor() == "" {
		return nil, fmt.Errorf("%w: no actor", ErrMalformed)
	}
	if p.GetId() == oldID || body.GetOffsetSeconds() < 0 {
		return nil, fmt.Errorf("%w: bad re-key body", ErrMalformed)
	}
	if err := checkAttrSizes(p.GetAttributes()); err != nil {
		return nil, err
	}
	if err := checkAttrSizes(body.GetAddedAttributes()); err != nil {
		return nil, err
	}
	set, err := ObjectFromProto(p)
	if err != nil {
		return nil, err
	}
	added, err := decodeAttributes(body.GetAddedAttributes())
	if err != nil {
		return nil, err
	}
	cur, err := getObject(tx, oldID)
	if err != nil {
		return nil, err
	}
	if cur.Owner != c.cmd.GetActor() {
		return nil, ErrNotFound
	}
	if hasObject(tx, p.GetId()) {
		return nil, ErrExists
	}
	if err := checkKeyVersion(tx, p.GetSealedMaterial()); err != nil {
		return nil, err
	}
	old := cur
	if err := checkRekeyable(old, c.now); err != nil {
		return nil, err
	}
	repl, err := replacement(old, set, added, body, c.now)
	if err != nil {
		return nil, err
	}
	repl.ID, repl.Owner, repl.Material, repl.Revision = p.GetId(), old.Owner, p.GetSealedMaterial(), c.index
	repl.Creator = c.cmd.GetIdentity()

	// KMIP 1.4 §4.4: the replacement takes over the names of the existing
	// key, which gets a Replacement Object link to it.
	old.Attrs = withoutAttrs(old.Attrs, []kmip.AttributeName{kmip.AttributeNameName})
	old.Attrs = append(old.Attrs, kmip.Attribute{AttributeName: kmip.AttributeNameLink, AttributeValue: kmip.Link{
		LinkType: kmip.LinkTypeReplacementObjectLink, LinkedObjectIdentifier: repl.ID,
	}})
	touch(old, c.now)
	return growing(tx, old.Owner, func() ([]string, error) {
		if err := putObject(tx, old); err != nil {
			return nil, err
		}
		if err := putObject(tx, repl); err != nil {
			return nil, err
		}
		return []string{repl.ID, old.ID}, nil
	})
}

// checkRekeyable settles the existing key's state and refuses what cannot be
// re-keyed: objects other than symmetric keys, archived or destroyed keys.
func checkRekeyable(old *Object, now time.Time) error {
	if old.ObjectType() != kmip.ObjectTypeSymmetricKey {
		return fmt.Errorf("%w: re-key applies to symmetric keys", ErrNotApplicable)
	}
	if old.Archived() {
		return ErrArchived
	}
	settle(old, now)
	if isDestroyed(old.StoredState()) {
		return ErrWrongState
	}
	return nil
}

// replacement builds the replacement key's attributes: those of the existing
// key, minus the ones set anew, with dates copied or shifted, then the
// proposer's attributes (each replacing the copies of its name), then the
// added instances, then the server-managed ones.
func replacement(old, set *Object, added []kmip.Attribute, body *kmsdpb.Rekey, now time.Time) (*Object, error) {
	setNames := map[kmip.AttributeName]bool{}
	for _, a := range set.Attrs {
		setNames[a.AttributeName] = true
	}
	o := &Object{Attrs: []kmip.Attribute{{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: set.ID}}}
	for _, a := range old.Attrs {
		if !slices.Contains(notInherited, a.AttributeName) && !setNames[a.AttributeName] {
			o.Attrs = append(o.Attrs, a)
		}
	}
	if body.GetHasOffset() {
		if err := offsetDates(o, old, time.Duration(body.GetOffsetSeconds())*time.Second, setNames, now); err != nil {
			return nil, err
		}
	}
	for _, a := range set.Attrs {
		if !slices.Contains(protected, a.AttributeName) {
			o.Attrs = append(o.Attrs, a)
		}
	}
	for _, a := range added {
		if !slices.Contains(protected, a.AttributeName) {
			o.Attrs = append(o.Attrs, a)
		}
	}
	for _, name := range singleInstance {
		if len(o.AttrAll(name)) > 1 {
			return nil, fmt.Errorf("%w: replacement has %s more than once", ErrMalformed, name)
		}
	}
	resetUsageLimits(o)
	// The replacement is a new key: its "always"/"never" flags start from
	// its current Sensitive and Extractable values (KMIP 1.4 §3.49, §3.51).
	if v, ok := o.Attr(kmip.AttributeNameSensitive); ok {
		o.SetAttr(kmip.AttributeNameAlwaysSensitive, v == true)
	}
	if v, ok := o.Attr(kmip.AttributeNameExtractable); ok {
		o.SetAttr(kmip.AttributeNameNeverExtractable, v == false)
	}
	o.Attrs = append(o.Attrs, kmip.Attribute{AttributeName: kmip.AttributeNameLink, AttributeValue: kmip.Link{
		LinkType: kmip.LinkTypeReplacedObjectLink, LinkedObjectIdentifier: old.ID,
	}})
	// KMIP 1.4 §4.4: the State is "set based on attributes values, such as
	// dates": Pre-Active, moved forward by dates that have passed.
	o.SetAttr(kmip.AttributeNameState, kmip.StatePreActive)
	o.SetAttr(kmip.AttributeNameInitialDate, now)
	o.SetAttr(kmip.AttributeNameLastChangeDate, now)
	settle(o, now)
	return o, nil
}

// offsetDates applies KMIP 1.4 §4.4 Table "Computing New Dates from Offset":
// AT2 = IT2 + Offset, and Process Start, Protect Stop and Deactivation keep
// their distance to the Activation Date (D2 = D1 + (AT2 - AT1)). Dates the
// proposer sets are left to it.
func offsetDates(o, old *Object, offset time.Duration, setNames map[kmip.AttributeName]bool, now time.Time) error {
	at1 := old.Date(kmip.AttributeNameActivationDate)
	at2 := now.Add(offset)
	o.Attrs = withoutAttrs(o.Attrs, append([]kmip.AttributeName{kmip.AttributeNameActivationDate}, shiftedDates...))
	if !setNames[kmip.AttributeNameActivationDate] {
		o.Attrs = append(o.Attrs, kmip.Attribute{AttributeName: kmip.AttributeNameActivationDate, AttributeValue: at2})
	}
	for _, name := range shiftedDates {
		d1 := old.Date(name)
		if d1.IsZero() || setNames[name] {
			continue
		}
		if at1.IsZero() {
			// KMIP 1.4 §11: "An offset cannot be used to specify new Process
			// Start, Protect Stop and/or Deactivation Date attribute values
			// since no Activation Date has been specified for the existing key".
			return fmt.Errorf("%w: the existing key has %s but no Activation Date", ErrNotApplicable, name)
		}
		o.Attrs = append(o.Attrs, kmip.Attribute{AttributeName: name, AttributeValue: d1.Add(at2.Sub(at1))})
	}
	return nil
}

// resetUsageLimits sets the Usage Limits Count of a new object to its Total:
// KMIP 1.4 §3.21, the server SHALL ignore the Count given with an operation
// that creates an object; §4.4 copies the Total to the replacement.
func resetUsageLimits(o *Object) {
	v, ok := o.Attr(kmip.AttributeNameUsageLimits)
	ul, isUL := v.(kmip.UsageLimits)
	if !ok || !isUL {
		return
	}
	total := ul.UsageLimitsTotal
	ul.UsageLimitsCount = &total // a new pointer: stored values are shared
	o.SetAttr(kmip.AttributeNameUsageLimits, ul)
}

func decodeAttributes(bs [][]byte) ([]kmip.Attribute, error) {
	out := make([]kmip.Attribute, 0, len(bs))
	for _, b := range bs {
		a, err := DecodeAttribute(b)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
