package conformance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// unordered compares the fields of want and got with the given tag (every
// field if tag is 0) as a multiset: each recorded item must match a
// distinct actual item, in any order. With extra the server may list more
// items than recorded. The other fields are compared in order.
func (w *walker) unordered(c ctx, want, got ttlv.Value, tag int, extra bool) {
	wSet, wRest := split(want, tag)
	gSet, gRest := split(got, tag)
	if tag != 0 {
		w.structure(c, ttlv.Value{Tag: want.Tag, Value: wRest}, ttlv.Value{Tag: got.Tag, Value: gRest})
		// The items may come in any order among themselves, not anywhere
		// among the other fields.
		if ws, gs := layout(want, tag), layout(got, tag); len(wSet) > 0 && len(gSet) > 0 && ws != gs {
			w.diff(c, "fields out of order: want %s got %s", ws, gs)
		}
	}
	used := make([]bool, len(gSet))
	seen := map[int]int{}
	for _, wf := range wSet {
		cc := w.childCtx(c, want, got, wf, seen[wf.Tag])
		seen[wf.Tag]++
		found := false
		for j, gf := range gSet {
			if used[j] || gf.Tag != wf.Tag {
				continue
			}
			trial := &walker{s: w.s.clone(), step: w.step, req: w.req, messages: w.messages, version: w.version}
			trial.value(cc, wf, gf)
			if len(trial.diffs) == 0 {
				used[j], found = true, true
				w.s.vars = trial.s.vars
				break
			}
		}
		if found {
			continue
		}
		// Show the precise difference when one leftover item is evidently
		// the counterpart (same tag, same Attribute Name and Index).
		if j := counterpart(wf, wSet, gSet, used); !extra && j >= 0 {
			used[j] = true
			w.value(cc, wf, gSet[j])
			continue
		}
		w.diff(cc, "missing item: want %s among the %d items listed", format(wf.Value, cc.enum(wf.Tag)), len(gSet))
	}
	if !extra {
		seen = map[int]int{}
		for j, gf := range gSet {
			if !used[j] && !optionalAttribute(gf) {
				cc := w.childCtx(c, want, got, gf, seen[gf.Tag])
				w.diff(cc, "unexpected item: got %s", format(gf.Value, cc.enum(gf.Tag)))
			}
			seen[gf.Tag]++
		}
	}
	if c.item.op == kmip.OperationDiscoverVersions && len(c.item.offered) > 0 {
		w.offered(c, gSet)
	}
}

// split separates the fields of v with the given tag (all if tag is 0) from
// the others.
func split(v ttlv.Value, tag int) (set, rest ttlv.Struct) {
	for _, f := range fields(v) {
		if tag == 0 || f.Tag == tag {
			set = append(set, f)
		} else {
			rest = append(rest, f)
		}
	}
	return set, rest
}

// offered checks a Discover Versions answer against the request. KMIP 1.4
// §4.26: the server SHALL return the versions it supports among those the
// client listed.
func (w *walker) offered(c ctx, gSet ttlv.Struct) {
	for _, gf := range gSet {
		if gf.Tag == kmip.TagProtocolVersion && !slices.ContainsFunc(c.item.offered, func(o ttlv.Value) bool { return equalTree(o, gf) }) {
			w.diff(c, "unexpected %s: the client did not offer it", format(gf.Value, 0))
		}
	}
}

// layout lists the tags of v's fields, runs of tag shown once.
func layout(v ttlv.Value, tag int) string {
	var out []string
	for i, f := range fields(v) {
		if f.Tag == tag && i > 0 && fields(v)[i-1].Tag == tag {
			continue
		}
		out = append(out, ttlv.TagString(f.Tag))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// requestVersion reports whether v is the Protocol Version of the request.
func (w *walker) requestVersion(v ttlv.Value) bool {
	rv, ok := path(w.req, kmip.TagRequestHeader, kmip.TagProtocolVersion)
	return ok && equalTree(rv, v)
}

// counterpart returns the index of the only unused item of gSet with the
// same identity as wf, if wf is the only item of wSet with that identity.
func counterpart(wf ttlv.Value, wSet, gSet ttlv.Struct, used []bool) int {
	key := itemKey(wf)
	n := 0
	for _, f := range wSet {
		if itemKey(f) == key {
			n++
		}
	}
	found := -1
	for j, f := range gSet {
		if !used[j] && itemKey(f) == key {
			if found >= 0 {
				return -1
			}
			found = j
		}
	}
	if n != 1 {
		return -1
	}
	return found
}

// itemKey identifies an item of an unordered list: an Attribute by its
// name and index, anything else by its tag.
func itemKey(f ttlv.Value) string {
	if f.Tag != kmip.TagAttribute {
		return fmt.Sprint(f.Tag)
	}
	name, _ := child(fields(f), kmip.TagAttributeName)
	idx, _ := child(fields(f), kmip.TagAttributeIndex)
	return fmt.Sprintf("%v/%v", name.Value, idx.Value)
}

// optional reports whether a field the recording lacks may be added by a
// conforming server. KMIP 1.4 §4.9: "A server MAY elect to return the
// Located Items value even if Offset Items is not present in the Request"
// (Located Items exists from KMIP 1.3 on).
func (w *walker) optional(c ctx, f ttlv.Value) bool {
	switch {
	case f.Tag == kmip.TagLocatedItems:
		return c.item != nil && c.item.op == kmip.OperationLocate && c.parent == kmip.TagResponsePayload && w.version >= 13
	case f.Tag == kmip.TagServerCorrelationValue:
		// KMIP 1.4 §6.18: a server SHOULD send one; recordings differ.
		return c.parent == kmip.TagResponseHeader && w.version >= 14
	}
	return false
}

// equalTree compares two trees without variables or tolerances.
func equalTree(a, b ttlv.Value) bool {
	if a.Tag != b.Tag || typeOf(a.Value) != typeOf(b.Value) {
		return false
	}
	as, ok := a.Value.(ttlv.Struct)
	if !ok {
		return equalLeaf(a.Value, b.Value)
	}
	bs := fields(b)
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if !equalTree(as[i], bs[i]) {
			return false
		}
	}
	return true
}

// optionalAttribute reports an attribute a server MAY return or not: the
// Random Number Generator (KMIP 1.3 §3.44, "Required: No") describes the
// server's own generator, and recording servers differ in reporting it.
func optionalAttribute(f ttlv.Value) bool {
	switch f.Tag {
	case kmip.TagAttribute:
		name, ok := child(fields(f), kmip.TagAttributeName)
		return ok && name.Value == string(kmip.AttributeNameRandomNumberGenerator)
	case kmip.TagAttributeName:
		// An entry of a Get Attribute List answer.
		return f.Value == string(kmip.AttributeNameRandomNumberGenerator)
	}
	return false
}
