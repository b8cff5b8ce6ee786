package fsm

import (
	"cmp"
	"slices"
	"time"

	"github.com/ovh/kmip-go"
)

// Query selects objects for Locate.
type Query struct {
	Owner    string           // only this tenant's objects
	Now      time.Time        // evaluates date-driven state
	Filters  []kmip.Attribute // every named attribute must match
	MaxItems int              // 0 means no limit
	Offset   int              // skip this many matches first
	// Storage selects on-line and/or archived objects; 0 means on-line only
	// (KMIP 1.4 §4.9).
	Storage kmip.StorageStatusMask
	// GroupMember asks for members of an object group (KMIP 1.1+): Fresh
	// finds only fresh objects, oldest first, so that a group hands out its
	// objects in the order they were made; Default finds the group's default
	// object, which this server defines as its oldest matching member.
	GroupMember kmip.ObjectGroupMember
}

// Locate returns the ids of matching objects, newest first (oldest first for
// a GroupMember query), and the number of matches before Offset and MaxItems
// were applied. Destroyed objects are only found when the query names a
// State, archived objects only when Storage asks for them.
func (f *FSM) Locate(q Query) ([]string, int, error) {
	tx := f.readTxn()
	it, err := tx.Get(tableObjects, indexOwner, q.Owner)
	if err != nil {
		return nil, 0, err
	}
	groups := groupFilters(q.Filters)
	// Destroyed objects keep their metadata but are only found when the
	// client asks for a State explicitly.
	byState := slices.ContainsFunc(groups, func(g filterGroup) bool { return g.name == kmip.AttributeNameState })
	online := q.Storage == 0 || q.Storage&kmip.StorageStatusOnlineStorage != 0
	archival := q.Storage&kmip.StorageStatusArchivalStorage != 0
	var found []*Object
	for raw := it.Next(); raw != nil; raw = it.Next() {
		o := raw.(*Object)
		if !byState && isDestroyed(o.StoredState()) {
			continue
		}
		if o.Archived() && !archival || !o.Archived() && !online {
			continue
		}
		if q.GroupMember == kmip.ObjectGroupMemberFresh {
			if v, _ := o.Attr(kmip.AttributeNameFresh); v != true {
				continue
			}
		}
		if matchesAll(o, groups, q.Now) {
			found = append(found, o)
		}
	}
	slices.SortFunc(found, func(a, b *Object) int {
		if c := cmp.Compare(b.Revision, a.Revision); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if q.GroupMember != 0 {
		slices.Reverse(found)
	}
	if q.GroupMember == kmip.ObjectGroupMemberDefault && len(found) > 1 {
		found = found[:1]
	}
	total := len(found)
	if q.Offset > 0 {
		found = found[min(q.Offset, len(found)):]
	}
	if q.MaxItems > 0 && len(found) > q.MaxItems {
		found = found[:q.MaxItems]
	}
	ids := make([]string, len(found))
	for i, o := range found {
		ids[i] = o.ID
	}
	return ids, total, nil
}

type filterGroup struct {
	name   kmip.AttributeName
	values []any
}

// groupFilters gathers instances of the same attribute: two instances of a
// date attribute are a range (KMIP 1.4 §4.9).
func groupFilters(filters []kmip.Attribute) []filterGroup {
	var groups []filterGroup
	for _, f := range filters {
		i := slices.IndexFunc(groups, func(g filterGroup) bool { return g.name == f.AttributeName })
		if i < 0 {
			groups = append(groups, filterGroup{name: f.AttributeName})
			i = len(groups) - 1
		}
		groups[i].values = append(groups[i].values, f.AttributeValue)
	}
	return groups
}

func matchesAll(o *Object, groups []filterGroup, now time.Time) bool {
	for _, g := range groups {
		if !matches(o, g, now) {
			return false
		}
	}
	return true
}

func matches(o *Object, g filterGroup, now time.Time) bool {
	if g.name == kmip.AttributeNameState {
		for _, v := range g.values {
			if s, ok := v.(kmip.State); !ok || s != EffectiveState(o, now) {
				return false
			}
		}
		return true
	}
	if len(g.values) == 2 {
		lo, ok1 := g.values[0].(time.Time)
		hi, ok2 := g.values[1].(time.Time)
		if ok1 && ok2 {
			d := o.Date(g.name)
			return !d.IsZero() && !d.Before(lo) && !d.After(hi)
		}
	}
	have := o.AttrAll(g.name)
	for _, want := range g.values {
		if !slices.ContainsFunc(have, func(h any) bool { return valueMatches(g.name, h, want) }) {
			return false
		}
	}
	return true
}

func valueMatches(name kmip.AttributeName, have, want any) bool {
	switch w := want.(type) {
	case kmip.Name:
		h, ok := have.(kmip.Name)
		return ok && h.NameValue == w.NameValue && (w.NameType == 0 || h.NameType == w.NameType)
	case kmip.CryptographicUsageMask:
		// Bits set to 0 in the request are "don't care".
		h, ok := have.(kmip.CryptographicUsageMask)
		return ok && h&w == w
	}
	return attrEqual(have, want)
}

func isDestroyed(s kmip.State) bool {
	return s == kmip.StateDestroyed || s == kmip.StateDestroyedCompromised
}
