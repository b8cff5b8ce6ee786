package conformance

import (
	"fmt"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// DefaultTolerance is how far a Date-Time recorded as $NOW±N may be from the
// server's value.
const DefaultTolerance = 5 * time.Minute

// Diff is one difference between a recorded and an actual response.
type Diff struct {
	Step int    // index of the request in the vector, from 0 (the "# TIME n" of the file)
	Path string // e.g. "BatchItem[0]/ResponsePayload/UniqueIdentifier"
	Msg  string // e.g. `want "x" got "y"`
}

func (d Diff) String() string {
	if d.Path == "" {
		return fmt.Sprintf("step %d: %s", d.Step, d.Msg)
	}
	return fmt.Sprintf("step %d %s: %s", d.Step, d.Path, d.Msg)
}

// Check compares the response got with the recorded response want. req is
// the request as sent (after Substitute). Variables seen for the first time
// in want are bound to got's values. It returns every difference found.
func (s *Session) Check(step int, req, want, got ttlv.Value) []Diff {
	w := &walker{s: s, step: step, req: req}
	for _, item := range childrenWithTag(got, kmip.TagBatchItem) {
		msg, _ := child(fields(item), kmip.TagResultMessage)
		text, _ := msg.Value.(string)
		w.messages = append(w.messages, text)
	}
	major, _ := path(got, kmip.TagResponseHeader, kmip.TagProtocolVersion, kmip.TagProtocolVersionMajor)
	minor, _ := path(got, kmip.TagResponseHeader, kmip.TagProtocolVersion, kmip.TagProtocolVersionMinor)
	if ma, ok := major.Value.(int32); ok {
		mi, _ := minor.Value.(int32)
		w.version = int(10*ma + mi)
	}
	// The Result Message is free text, for humans; its content is not
	// part of the conformance. It is kept for diagnostics only.
	want = without(want, kmip.TagResultMessage)
	got = without(got, kmip.TagResultMessage)
	s.noteCreated(req, got)
	defer s.noteLeaves(got)
	if want.Tag != got.Tag {
		w.diff(ctx{}, "want %s got %s", ttlv.TagString(want.Tag), ttlv.TagString(got.Tag))
		return w.diffs
	}
	w.value(ctx{}, want, got)
	return w.diffs
}

// walker compares one response tree.
type walker struct {
	s        *Session
	step     int
	req      ttlv.Value
	messages []string // Result Message of each actual batch item, for diagnostics
	version  int      // protocol version of the actual response, 10*major+minor
	diffs    []Diff
}

// ctx is what the walker knows about the position it compares.
type ctx struct {
	path          string
	parent        int        // tag of the enclosing structure
	enumTag       int        // enumeration of this value if not its own tag
	item          *itemRules // rules of the enclosing batch item
	inKeyMaterial bool
	rawFormat     bool   // the enclosing Key Block is Raw or Transparent Symmetric Key
	attrName      string // the Attribute Name of an Attribute Value
}

func (w *walker) diff(c ctx, msg string, args ...any) {
	w.diffs = append(w.diffs, Diff{Step: w.step, Path: c.path, Msg: fmt.Sprintf(msg, args...)})
}

func (w *walker) value(c ctx, want, got ttlv.Value) {
	if v, ok := want.Value.(Var); ok {
		w.variable(c, v, got)
		return
	}
	wt, gt := typeOf(want.Value), typeOf(got.Value)
	if wt != gt {
		w.diff(c, "want %s %s got %s %s", wt, format(want.Value, c.enum(want.Tag)), gt, format(got.Value, c.enum(got.Tag)))
		return
	}
	if wt != ttlv.TypeStructure {
		w.leaf(c, want, got)
		return
	}
	switch {
	case c.item != nil && c.item.op == kmip.OperationQuery && want.Tag == kmip.TagServerInformation:
		return // server-specific content
	case want.Tag == kmip.TagAttributeValue && c.attrName == string(kmip.AttributeNameRandomNumberGenerator):
		// The RNG Parameters describe the server's own generator, like
		// Vendor Identification; the recording server's is not ours.
		return
	case want.Tag == kmip.TagProtocolVersion && c.parent == kmip.TagResponseHeader && w.requestVersion(got):
		// The server answers in the request's version (KMIP 1.4 §4.26);
		// a few recordings (v1.4/OMOS-O-1-14 step 1) show another one.
		return
	case c.item != nil && c.item.unordered && want.Tag == kmip.TagResponsePayload:
		w.unordered(c, want, got, c.item.unorderedTag, c.item.extra)
		return
	}
	w.structure(c, want, got)
}

func (w *walker) variable(c ctx, v Var, got ttlv.Value) {
	if gt := typeOf(got.Value); gt != v.Type {
		w.diff(c, "want %s %s got %s %s", v.Type, v.Name, gt, format(got.Value, c.enum(got.Tag)))
		return
	}
	bound, ok := w.s.vars[v.Name]
	if !ok {
		w.s.vars[v.Name] = got.Value
		return
	}
	if !equalLeaf(bound, got.Value) {
		w.diff(c, "want %s = %s got %s", v.Name, format(bound, c.enum(got.Tag)), format(got.Value, c.enum(got.Tag)))
	}
}

func (w *walker) leaf(c ctx, want, got ttlv.Value) {
	if c.parent == kmip.TagResponseHeader && want.Tag == kmip.TagServerCorrelationValue {
		// Chosen by the server for each response, like the Time Stamp.
		if _, ok := got.Value.(string); !ok {
			w.diff(c, "want a text Server Correlation Value got %s", format(got.Value, 0))
		}
		return
	}
	switch wv := want.Value.(type) {
	case Now:
		if c.parent == kmip.TagResponseHeader && want.Tag == kmip.TagTimeStamp {
			return
		}
		gv := got.Value.(time.Time)
		if d := gv.Sub(wv.T); d > w.s.Tolerance || d < -w.s.Tolerance {
			w.diff(c, "want %s ±%s got %s", format(wv, 0), w.s.Tolerance, format(gv, 0))
		}
		return
	case time.Time:
		// A literal date in a recorded response was assigned by the
		// recording server (Initial Date, Time Stamp, ...): only the type
		// is checked.
		return
	}
	if rule := c.relaxed(want.Tag, typeOf(want.Value)); rule != exact {
		if !rule.ok(byteLen(want.Value), byteLen(got.Value)) {
			w.diff(c, "want %s got %s (random value: %s)", format(want.Value, 0), format(got.Value, 0), rule)
		}
		return
	}
	if !equalLeaf(want.Value, got.Value) {
		note := ""
		if want.Tag == kmip.TagResultStatus && c.item != nil && c.item.message != "" {
			note = fmt.Sprintf(" (result message %q)", c.item.message)
		}
		w.diff(c, "want %s got %s%s", format(want.Value, c.enum(want.Tag)), format(got.Value, c.enum(got.Tag)), note)
	}
}

// structure compares fields in order. A field of want missing from got, or
// a field of got that want does not have, is reported and skipped so that
// the rest still lines up.
func (w *walker) structure(c ctx, want, got ttlv.Value) {
	ws, gs := fields(want), fields(got)
	wSeen, gSeen := map[int]int{}, map[int]int{}
	i, j := 0, 0
	for i < len(ws) || j < len(gs) {
		switch {
		case i < len(ws) && j < len(gs) && ws[i].Tag == gs[j].Tag:
			cc := w.childCtx(c, want, got, ws[i], wSeen[ws[i].Tag])
			w.value(cc, ws[i], gs[j])
			wSeen[ws[i].Tag]++
			gSeen[gs[j].Tag]++
			i++
			j++
		case i < len(ws) && !hasTag(gs[j:], ws[i].Tag):
			cc := w.childCtx(c, want, got, ws[i], wSeen[ws[i].Tag])
			w.diff(cc, "missing field: want %s", format(ws[i].Value, cc.enum(ws[i].Tag)))
			wSeen[ws[i].Tag]++
			i++
		default:
			cc := w.childCtx(c, want, got, gs[j], gSeen[gs[j].Tag])
			if !w.optional(cc, gs[j]) {
				w.diff(cc, "unexpected field: got %s", format(gs[j].Value, cc.enum(gs[j].Tag)))
			}
			gSeen[gs[j].Tag]++
			j++
		}
	}
}

func hasTag(s ttlv.Struct, tag int) bool {
	_, ok := child(s, tag)
	return ok
}

// childCtx derives the context of field f (the n-th with its tag) of the
// structure want/got.
func (w *walker) childCtx(c ctx, want, got, f ttlv.Value, n int) ctx {
	cc := c
	cc.parent, cc.enumTag = want.Tag, 0
	seg := ttlv.TagString(f.Tag)
	if f.Tag == kmip.TagBatchItem || countTag(want, f.Tag) > 1 || countTag(got, f.Tag) > 1 {
		seg = fmt.Sprintf("%s[%d]", seg, n)
	}
	if f.Tag == kmip.TagAttribute {
		if name, ok := child(fields(f), kmip.TagAttributeName); ok {
			seg += fmt.Sprintf("(%v)", name.Value)
		}
	}
	if c.path != "" {
		seg = c.path + "/" + seg
	}
	cc.path = seg
	switch f.Tag {
	case kmip.TagAttributeValue:
		if name, ok := child(fields(want), kmip.TagAttributeName); ok {
			if s, ok := name.Value.(string); ok {
				cc.enumTag = attributeTag(s)
				cc.attrName = s
			}
		}
	case kmip.TagBatchItem:
		if want.Tag == kmip.TagResponseMessage {
			cc.item = w.rules(n, f, got)
		}
	case kmip.TagKeyBlock:
		kft, _ := child(fields(f), kmip.TagKeyFormatType)
		cc.rawFormat = kft.Value == ttlv.Enum(kmip.KeyFormatTypeRaw) ||
			kft.Value == ttlv.Enum(kmip.KeyFormatTypeTransparentSymmetricKey)
	case kmip.TagKeyMaterial:
		cc.inKeyMaterial = true
	}
	return cc
}

func countTag(v ttlv.Value, tag int) int {
	return len(childrenWithTag(v, tag))
}

// enum returns the tag whose enumeration names a value with this tag.
func (c ctx) enum(tag int) int {
	if c.enumTag != 0 {
		return c.enumTag
	}
	return tag
}
