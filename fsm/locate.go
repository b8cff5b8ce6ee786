package fsm

import (
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
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
	// finds only fresh objects, so that a group hands out its objects in the
	// order they were made; Default finds the group's default object, which
	// this server defines as its oldest matching member.
	GroupMember kmip.ObjectGroupMember
}

// Locate returns the ids of matching objects in the order they were created,
// oldest first, and the number of matches before Offset and MaxItems were
// applied. Destroyed objects are only found when the query names a State,
// archived objects only when Storage asks for them.
//
// Creation order (Revision, then ID) never changes for an object and a new
// object always comes last, so a client paging through the results with
// Offset and MaxItems while objects are being created sees every object
// that existed when it started exactly once.
//
// Locate reads the objects through the secondary indexes (index.go): it
// picks the smallest of the candidate sets the filters name, walks it in
// creation order and checks every filter on each candidate, so the filters
// keep their exact KMIP semantics (effective State, Name Type, usage mask
// bits, date ranges).
func (f *FSM) Locate(q Query) ([]string, int, error) {
	ids, total, _, err := f.locate(q)
	return ids, total, err
}

// locate is Locate that also returns how many objects it read.
func (f *FSM) locate(q Query) (ids []string, total, read int, err error) {
	tx := f.readTxn()
	p := newPlan(q)
	src, err := p.source(tx)
	if err != nil {
		return nil, 0, 0, err
	}
	for o := src.next(); o != nil; o = src.next() {
		read++
		ok, err := p.admits(o)
		if err != nil {
			return nil, 0, read, err
		}
		if !ok {
			continue
		}
		if q.GroupMember == kmip.ObjectGroupMemberDefault {
			// The default member is the one match; Offset may skip it.
			if q.Offset > 0 {
				return nil, 1, read, nil
			}
			return []string{o.ID}, 1, read, nil
		}
		if total >= q.Offset && (q.MaxItems <= 0 || len(ids) < q.MaxItems) {
			ids = append(ids, o.ID)
		}
		total++
	}
	return ids, total, read, nil
}

// plan is a query prepared for the indexes.
type plan struct {
	q      Query
	groups []filterGroup
	// skip marks the groups the chosen candidate set already guarantees.
	skip []bool
	// byState: destroyed objects are found only when a State is asked for.
	byState          bool
	online, archival bool
	// visibilityKnown: the chosen set holds only objects the three rules
	// above admit.
	visibilityKnown bool
	// needs selects the attributes the filters read; nil for all.
	needs func(kmip.AttributeName) bool
}

func newPlan(q Query) *plan {
	p := &plan{q: q, groups: groupFilters(q.Filters)}
	p.skip = make([]bool, len(p.groups))
	p.byState = slices.ContainsFunc(p.groups, func(g filterGroup) bool { return g.name == kmip.AttributeNameState })
	p.online = q.Storage == 0 || q.Storage&kmip.StorageStatusOnlineStorage != 0
	p.archival = q.Storage&kmip.StorageStatusArchivalStorage != 0
	if !p.byState {
		// The effective State depends on several dates; any other filter
		// reads the attribute it names.
		p.needs = func(name kmip.AttributeName) bool {
			return name == kmip.AttributeNameFresh || slices.ContainsFunc(p.groups, func(g filterGroup) bool { return g.name == name })
		}
	}
	return p
}

// admits reports whether a stored object of the tenant matches the query.
// It decodes the object only when a filter needs its attributes.
func (p *plan) admits(r *row) (bool, error) {
	if !p.visibilityKnown {
		if !p.byState && isDestroyed(kmip.State(r.class.state)) {
			return false, nil
		}
		if archived := r.class.flags&flagArchived != 0; archived && !p.archival || !archived && !p.online {
			return false, nil
		}
	}
	fresh := p.q.GroupMember == kmip.ObjectGroupMemberFresh
	if !fresh && !slices.Contains(p.skip, false) {
		return true, nil
	}
	o, err := r.partial(p.needs)
	if err != nil {
		return false, err
	}
	if fresh {
		if v, _ := o.Attr(kmip.AttributeNameFresh); v != true {
			return false, nil
		}
	}
	for i, g := range p.groups {
		if !p.skip[i] && !matches(o, g, p.q.Now) {
			return false, nil
		}
	}
	return true, nil
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
	for _, want := range g.values {
		if !slices.ContainsFunc(o.Attrs, func(a kmip.Attribute) bool {
			return a.AttributeName == g.name && valueMatches(g.name, a.AttributeValue, want)
		}) {
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

// readIter adapts a memdb iterator over the objects table.
type readIter struct{ it memdb.ResultIterator }

func (r readIter) next() *row {
	raw := r.it.Next()
	if raw == nil {
		return nil
	}
	return raw.(*row)
}
