package fsm

import (
	"container/heap"
	"slices"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// objectIter yields stored objects in creation order (Revision, then ID),
// then nil.
type objectIter interface{ next() *row }

// A candidate is one set of objects that holds every match of the query: the
// objects under one attr index key, or the tenant's objects of the classes
// the query admits.
type candidate struct {
	// rank orders candidates whose sizes are not known: the attr kinds in
	// the order of how few objects share a value, the class set last.
	rank int
	open func(tx *memdb.Txn) (objectIter, error)
	// exact: the set holds only objects that pass the query's class-level
	// conditions (coveredByClass), which need no check per object. Every
	// set holds only objects of the visibility (destroyed, archived) the
	// query admits.
	exact bool
	// covers is the filter group every object of the set matches, or -1.
	covers int
}

var kindRank = map[byte]int{kindName: 0, kindLink: 1, kindCustom: 2, kindGroup: 3}

const classRank = 4

// raceBudget bounds how far the candidates are read to compare their sizes.
const raceBudget = 64

// source returns the objects to check, in creation order: the smallest
// candidate set. It reads the candidates side by side, a step each in turn,
// up to raceBudget objects each: the first to end is the smallest. The
// class set, dearer to open (a seek per class), joins the race only when no
// attr set has ended. When none ends, the one of best rank is used; what
// was read is not read again.
func (p *plan) source(tx *memdb.Txn) (objectIter, error) {
	attrCands, classCand, narrows := p.candidates()
	if len(attrCands) == 0 {
		return p.use(tx, classCand)
	}
	if len(attrCands) == 1 && !narrows {
		return p.use(tx, attrCands[0])
	}
	r := &race{}
	for _, c := range attrCands {
		if err := r.add(tx, c); err != nil {
			return nil, err
		}
	}
	if i := r.run(); i < 0 && narrows {
		if err := r.add(tx, classCand); err != nil {
			return nil, err
		}
		r.run()
	}
	i := r.winner()
	p.chose(r.cands[i])
	return r.iter(i), nil
}

func (p *plan) use(tx *memdb.Txn, c candidate) (objectIter, error) {
	p.chose(c)
	return c.open(tx)
}

// race reads candidate sets side by side.
type race struct {
	cands []candidate
	its   []objectIter
	bufs  [][]*row
	ended int // index of the first set read to its end, or -1
}

func (r *race) add(tx *memdb.Txn, c candidate) error {
	it, err := c.open(tx)
	if err != nil {
		return err
	}
	if len(r.cands) == 0 {
		r.ended = -1
	}
	r.cands, r.its, r.bufs = append(r.cands, c), append(r.its, it), append(r.bufs, nil)
	return nil
}

// run reads every set up to raceBudget more objects and returns the index
// of a set read to its end, or -1.
func (r *race) run() int {
	for range raceBudget {
		for i, it := range r.its {
			if r.ended >= 0 {
				return r.ended
			}
			o := it.next()
			if o == nil {
				r.ended = i
				return i
			}
			r.bufs[i] = append(r.bufs[i], o)
		}
	}
	return r.ended
}

// winner is the set read to its end, else the one of best rank.
func (r *race) winner() int {
	if r.ended >= 0 {
		return r.ended
	}
	best := 0
	for i, c := range r.cands {
		if c.rank < r.cands[best].rank {
			best = i
		}
	}
	return best
}

// iter yields set i from its start.
func (r *race) iter(i int) objectIter {
	if i == r.ended {
		return &sliceIter{objs: r.bufs[i]}
	}
	return &sliceIter{objs: r.bufs[i], rest: r.its[i]}
}

// chose records what the chosen set guarantees, so that admits does not
// check it again.
func (p *plan) chose(c candidate) {
	p.visibilityKnown = true
	if c.covers >= 0 {
		p.skip[c.covers] = true
	}
	if !c.exact {
		return
	}
	for i, g := range p.groups {
		if coveredByClass(g) {
			p.skip[i] = true
		}
	}
}

// candidates returns the sets the query's filters name: one per value of a
// filter on an attr-indexed attribute, and the tenant's objects of the
// classes the query admits, which narrows when the query filters on a class
// attribute.
func (p *plan) candidates() (attrCands []candidate, classCand candidate, narrows bool) {
	owner := appendOwner(nil, p.q.Owner)
	vis := p.visibilities()
	for i, g := range p.groups {
		for _, v := range g.values {
			a := kmip.Attribute{AttributeName: g.name, AttributeValue: v}
			key, ok := appendAttrValue(slices.Clip(owner), a)
			if !ok {
				continue
			}
			c := candidate{rank: kindRank[key[len(owner)]], covers: -1, open: func(tx *memdb.Txn) (objectIter, error) {
				return attrSet(tx, key, vis)
			}}
			if len(g.values) == 1 && keyDecides(a) {
				c.covers = i
			}
			attrCands = append(attrCands, c)
		}
	}
	cf := p.classFilter()
	classCand = candidate{rank: classRank, exact: true, covers: -1, open: func(tx *memdb.Txn) (objectIter, error) {
		return classes(tx, p.q.Owner, cf)
	}}
	return attrCands, classCand, cf.narrows
}

// visibilities lists the visibility bytes of attr keys the query admits.
func (p *plan) visibilities() []byte {
	var out []byte
	for v := byte(0); v <= visDestroyed|visArchived; v++ {
		if v&visDestroyed != 0 && !p.byState {
			continue
		}
		if archived := v&visArchived != 0; archived && !p.archival || !archived && !p.online {
			continue
		}
		out = append(out, v)
	}
	return out
}

// attrSet returns the objects under an attr key of the given visibilities,
// merged into creation order.
func attrSet(tx *memdb.Txn, key []byte, vis []byte) (objectIter, error) {
	m := &mergeIter{}
	for _, v := range vis {
		it, err := tx.Get(tableObjects, indexAttr, append(slices.Clip(key), v))
		if err != nil {
			return nil, err
		}
		if len(vis) == 1 {
			return readIter{it}, nil
		}
		m.add(readIter{it})
	}
	heap.Init(m)
	return m, nil
}

// keyDecides reports whether every object under the attr key of filter a
// matches a (matches): the key holds all the filter compares. A Name
// filter with a Name Type also compares the type, which the key leaves out.
// A custom value is keyed by its encoding: that decides when the value
// decodes back from its encoding to itself, as every stored value does.
func keyDecides(a kmip.Attribute) bool {
	switch v := a.AttributeValue.(type) {
	case kmip.Name:
		return v.NameType == 0
	case string, kmip.Link:
		return true
	case ttlv.Value:
		back, err := DecodeAttribute(EncodeAttribute(a))
		return err == nil && attrEqual(back.AttributeValue, v)
	}
	return false
}

// classFilter says which classes a query admits.
type classFilter struct {
	// nil admits any value; an empty set none.
	types, states, algs, lengths []uint32
	narrows                      bool // a filter on one of the four attributes
	hideDestroyed                bool
	online, archival             bool
}

// coveredByClass reports a filter group that class membership decides
// exactly: equality with a single-instance attribute that the class key
// holds as it is stored. State is not: its filter is on the effective
// state.
func coveredByClass(g filterGroup) bool {
	switch g.name {
	case kmip.AttributeNameObjectType:
		return allOf[kmip.ObjectType](g.values)
	case kmip.AttributeNameCryptographicAlgorithm:
		return allOf[kmip.CryptographicAlgorithm](g.values)
	case kmip.AttributeNameCryptographicLength:
		return allOf[int32](g.values)
	}
	return false
}

func allOf[T any](values []any) bool {
	for _, v := range values {
		if _, ok := v.(T); !ok {
			return false
		}
	}
	return true
}

func (p *plan) classFilter() classFilter {
	cf := classFilter{hideDestroyed: !p.byState, online: p.online, archival: p.archival}
	for _, g := range p.groups {
		switch g.name {
		case kmip.AttributeNameObjectType:
			cf.types = restrict(cf.types, g.values, func(v any) ([]uint32, bool) {
				t, ok := v.(kmip.ObjectType)
				return []uint32{uint32(t)}, ok
			})
		case kmip.AttributeNameState:
			cf.states = restrict(cf.states, g.values, func(v any) ([]uint32, bool) {
				s, ok := v.(kmip.State)
				return storedStates(s), ok
			})
		case kmip.AttributeNameCryptographicAlgorithm:
			cf.algs = restrict(cf.algs, g.values, func(v any) ([]uint32, bool) {
				a, ok := v.(kmip.CryptographicAlgorithm)
				return []uint32{uint32(a)}, ok
			})
		case kmip.AttributeNameCryptographicLength:
			cf.lengths = restrict(cf.lengths, g.values, func(v any) ([]uint32, bool) {
				n, ok := v.(int32)
				return []uint32{uint32(n)}, ok
			})
		default:
			continue
		}
		cf.narrows = true
	}
	return cf
}

// restrict intersects the admitted set with what each value admits. A value
// of another type matches no object (matches): it admits nothing.
func restrict(set []uint32, values []any, admitted func(any) ([]uint32, bool)) []uint32 {
	for _, v := range values {
		vals, ok := admitted(v)
		if !ok {
			return []uint32{}
		}
		if set == nil {
			set = vals
			continue
		}
		set = slices.DeleteFunc(slices.Clone(set), func(s uint32) bool { return !slices.Contains(vals, s) })
	}
	return set
}

// storedStates lists the stored states whose effective state can be s: a
// passed Activation Date makes a Pre-Active object Active, a passed
// Deactivation Date a Pre-Active or Active one Deactivated (EffectiveState).
func storedStates(s kmip.State) []uint32 {
	switch s {
	case kmip.StateActive:
		return []uint32{uint32(kmip.StatePreActive), uint32(kmip.StateActive)}
	case kmip.StateDeactivated:
		return []uint32{uint32(kmip.StatePreActive), uint32(kmip.StateActive), uint32(kmip.StateDeactivated)}
	}
	return []uint32{uint32(s)}
}

func (cf classFilter) admits(c objectClass) bool {
	in := func(set []uint32, v uint32) bool { return set == nil || slices.Contains(set, v) }
	if cf.hideDestroyed && isDestroyed(kmip.State(c.state)) {
		return false
	}
	if archived := c.flags&flagArchived != 0; archived && !cf.archival || !archived && !cf.online {
		return false
	}
	return in(cf.types, c.typ) && in(cf.states, c.state) && in(cf.algs, c.alg) && in(cf.lengths, c.length)
}

// classes returns the tenant's objects of the classes cf admits, merged
// into creation order. It finds the tenant's classes by seeking from one to
// the next in the class index: one seek per class, not a step per object.
func classes(tx *memdb.Txn, owner string, cf classFilter) (objectIter, error) {
	prefix := appendOwner(nil, owner)
	m := &mergeIter{}
	bound := prefix
	for {
		it, err := tx.LowerBound(tableObjects, indexClass, bound)
		if err != nil {
			return nil, err
		}
		raw := it.Next()
		if raw == nil || raw.(*row).Owner != owner {
			break
		}
		c := raw.(*row).class
		if cf.admits(c) {
			sub, err := tx.Get(tableObjects, indexClass, c.append(slices.Clip(prefix)))
			if err != nil {
				return nil, err
			}
			m.add(readIter{sub})
		}
		nc, ok := c.next()
		if !ok {
			break
		}
		bound = nc.append(slices.Clip(prefix))
	}
	heap.Init(m)
	return m, nil
}

// mergeIter merges iterators that are each in creation order.
type mergeIter struct {
	heads []*row
	its   []objectIter
}

func (m *mergeIter) add(it objectIter) {
	if o := it.next(); o != nil {
		m.heads = append(m.heads, o)
		m.its = append(m.its, it)
	}
}

func (m *mergeIter) next() *row {
	if len(m.heads) == 0 {
		return nil
	}
	o := m.heads[0]
	if len(m.its) == 1 {
		m.heads[0] = m.its[0].next()
		if m.heads[0] == nil {
			m.heads, m.its = nil, nil
		}
		return o
	}
	if n := m.its[0].next(); n != nil {
		m.heads[0] = n
		heap.Fix(m, 0)
	} else {
		heap.Pop(m)
	}
	return o
}

func (m *mergeIter) Len() int { return len(m.heads) }
func (m *mergeIter) Less(i, j int) bool {
	a, b := m.heads[i], m.heads[j]
	return a.Revision < b.Revision || a.Revision == b.Revision && a.ID < b.ID
}
func (m *mergeIter) Swap(i, j int) {
	m.heads[i], m.heads[j] = m.heads[j], m.heads[i]
	m.its[i], m.its[j] = m.its[j], m.its[i]
}
func (m *mergeIter) Push(any) { panic("fsm: mergeIter grows by add only") }
func (m *mergeIter) Pop() any {
	n := len(m.heads) - 1
	m.heads, m.its = m.heads[:n], m.its[:n]
	return nil
}

// sliceIter yields objects already read, then the rest of an iterator.
type sliceIter struct {
	objs []*row
	rest objectIter
}

func (s *sliceIter) next() *row {
	if len(s.objs) > 0 {
		o := s.objs[0]
		s.objs = s.objs[1:]
		return o
	}
	if s.rest == nil {
		return nil
	}
	return s.rest.next()
}
