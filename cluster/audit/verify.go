package audit

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MACer computes keyed MACs for verification; *seal.Barrier satisfies it.
type MACer interface {
	AuditMAC(version uint32, data []byte) ([]byte, error)
}

// Kinds of problem Verify reports.
const (
	// KindTruncated: the line is not complete JSON (cut short).
	KindTruncated = "truncated"
	// KindMalformed: JSON, but not an audit line: fields missing or
	// unknown, no MAC, an empty line, a line over MaxLineSize.
	KindMalformed = "malformed"
	// KindModified: the line's content changed after it was written: its
	// MAC does not verify, but the next line chains to that MAC.
	KindModified = "modified"
	// KindBadMAC: the line's MAC does not verify (content and MAC changed,
	// or written under another key).
	KindBadMAC = "bad-mac"
	// KindDeleted: sequence numbers are missing before the line.
	KindDeleted = "deleted"
	// KindInserted: the line is not part of the chain: a forged line, or a
	// sequence number repeated.
	KindInserted = "inserted"
	// KindReordered: sequence numbers missing before the line appear
	// later.
	KindReordered = "reordered"
	// KindUnverifiable: the line's key version is not in the keyring
	// (retired, or the log of another cluster).
	KindUnverifiable = "unverifiable"
	// KindRestarted: a new chain (sequence number 1) starts after other
	// lines: files out of order, or a node that lost its log and started
	// over.
	KindRestarted = "restarted"
)

// Position is a line in one of the files verified (Line counts from 1).
type Position struct {
	File string
	Line int64
}

// Problem is the first bad line.
type Problem struct {
	Position
	Seq    uint64 // the line's sequence number, 0 when it has none
	Kind   string
	Detail string
}

// Report is what Verify found.
type Report struct {
	Lines int64
	// Start is the first line and FirstSeq its sequence number; MidChain
	// says the lines before it are not in the files given (rotated away,
	// or the files start after a restart of the chain).
	Start    Position
	FirstSeq uint64
	MidChain bool
	LastSeq  uint64
	// KeyVersions are the data key versions of the keyed lines.
	KeyVersions []uint32
	// Unkeyed counts lines written without a key (kv 0, while the node was
	// sealed); UnkeyedTail those after the last keyed line, which no MAC
	// covers.
	Unkeyed, UnkeyedTail int64
	Problem              *Problem
}

// Verifier checks lines in order, as one chain.
type Verifier struct {
	keys     MACer
	rep      Report
	versions map[uint32]bool
	started  bool
	next     uint64   // the sequence number the next line must have
	prev     []byte   // the MAC the next line chains to
	last     Position // the last line that verified

	// After the first problem, lines are read on to tell its kind.
	suspect *suspect // a MAC that does not verify: the next line decides
	gap     *gap     // missing numbers: reordered if one appears later
}

type suspect struct {
	prev, mac []byte
	seq       uint64
}

type gap struct{ lo, hi uint64 }

// NewVerifier returns a Verifier that checks keyed lines with keys.
func NewVerifier(keys MACer) *Verifier {
	return &Verifier{keys: keys, versions: map[uint32]bool{}}
}

// Line checks one line, without its newline.
func (v *Verifier) Line(pos Position, b []byte) {
	v.rep.Lines++
	if v.rep.Problem != nil && v.suspect == nil && v.gap == nil {
		return
	}
	p, err := parseLine(b)
	switch {
	case v.suspect != nil:
		v.decideSuspect(p)
		return
	case v.gap != nil:
		if p != nil && p.Seq >= v.gap.lo && p.Seq < v.gap.hi {
			v.rep.Problem.Kind = KindReordered
			v.rep.Problem.Detail = fmt.Sprintf("line with sequence number %d comes after %d: lines are out of order (%d appears at %s:%d)",
				v.rep.Problem.Seq, v.gap.lo-1, p.Seq, pos.File, pos.Line)
			v.gap = nil
		}
		return
	case err != nil:
		v.rejectParsed(pos, b, err)
		return
	}
	v.check(pos, p)
}

// Reject records a line that could not be read at all (longer than
// MaxLineSize).
func (v *Verifier) Reject(pos Position, detail string) {
	v.rep.Lines++
	switch {
	case v.suspect != nil:
		v.decideSuspect(nil)
	case v.rep.Problem == nil:
		v.fail(pos, 0, KindMalformed, detail)
	}
}

func (v *Verifier) rejectParsed(pos Position, b []byte, err error) {
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		v.fail(pos, 0, KindMalformed, "empty line")
	case !json.Valid(b):
		v.fail(pos, 0, KindTruncated, "the line is not complete JSON (cut short or damaged)")
	case errors.Is(err, errNoMAC):
		v.fail(pos, 0, KindMalformed, "the line does not end in a MAC field")
	default:
		v.fail(pos, 0, KindMalformed, "the line is not an audit record: "+strings.TrimPrefix(err.Error(), "audit: "))
	}
}

func (v *Verifier) check(pos Position, p *parsed) {
	zero := make([]byte, macSize)
	switch {
	case !v.started:
		v.started = true
		v.rep.Start, v.rep.FirstSeq = pos, p.Seq
		v.rep.MidChain = p.Seq != 1 || !bytes.Equal(p.prev, zero)
		v.prev, v.next = p.prev, p.Seq
	case p.Seq == 1 && bytes.Equal(p.prev, zero):
		v.fail(pos, p.Seq, KindRestarted, "a new chain starts here after other lines: the files are out of order, or the node lost its log and started over")
		return
	}
	switch {
	case p.Seq > v.next:
		v.fail(pos, p.Seq, KindDeleted, fmt.Sprintf("sequence number %d follows %d: %s missing", p.Seq, v.next-1, span(v.next, p.Seq-1)))
		v.gap = &gap{lo: v.next, hi: p.Seq}
		return
	case p.Seq < v.next:
		v.fail(pos, p.Seq, KindInserted, fmt.Sprintf("sequence number %d follows %d: the line was inserted or repeated", p.Seq, v.next-1))
		return
	}
	if !bytes.Equal(p.prev, v.prev) && v.last.Line > 0 {
		if ok, _ := v.verifies(p.prev, p); ok {
			// An intact line that followed another: the line before it
			// was rewritten with a chain value of its own, as an unkeyed
			// line can be.
			v.fail(v.last, p.Seq-1, KindModified, "the line was changed after it was written: the next line chains to another line")
			return
		}
	}
	ok, known := v.verifies(v.prev, p)
	switch {
	case !known:
		v.fail(pos, p.Seq, KindUnverifiable, fmt.Sprintf("key version %d is not in this cluster's keyring (retired, or the log of another cluster)", p.KV))
		return
	case !ok:
		v.fail(pos, p.Seq, KindBadMAC, "the MAC does not verify: the line's content and MAC were changed, or it was written under another key")
		v.suspect = &suspect{prev: v.prev, mac: p.mac, seq: p.Seq}
		return
	}
	v.prev, v.next, v.rep.LastSeq, v.last = p.mac, p.Seq+1, p.Seq, pos
	if p.KV == 0 {
		v.rep.Unkeyed++
		v.rep.UnkeyedTail++
	} else {
		v.versions[p.KV] = true
		v.rep.UnkeyedTail = 0
	}
}

// decideSuspect tells what happened to a line whose MAC did not verify,
// from the line after it (nil when there is none or it does not parse).
func (v *Verifier) decideSuspect(next *parsed) {
	s := v.suspect
	v.suspect = nil
	if next == nil {
		return
	}
	if next.Seq == s.seq {
		if ok, _ := v.verifies(s.prev, next); ok {
			v.rep.Problem.Kind = KindInserted
			v.rep.Problem.Detail = "the line is not part of the chain: the next line carries the same sequence number and chains to the line before"
		}
		return
	}
	if next.Seq == s.seq+1 {
		if ok, _ := v.verifies(s.mac, next); ok {
			v.rep.Problem.Kind = KindModified
			v.rep.Problem.Detail = "the line's content was changed after it was written: its MAC does not verify, but the next line chains to it"
		}
	}
}

// verifies reports whether p's MAC is right after prev; known is false
// when its key version cannot be used here.
func (v *Verifier) verifies(prev []byte, p *parsed) (ok, known bool) {
	if p.KV == 0 {
		return hmac.Equal(unkeyedMAC(prev, p.body), p.mac), true
	}
	if v.keys == nil {
		return false, false
	}
	mac, err := v.keys.AuditMAC(p.KV, macInput(prev, p.body))
	if err != nil {
		return false, false
	}
	return hmac.Equal(mac, p.mac), true
}

func (v *Verifier) fail(pos Position, seq uint64, kind, detail string) {
	if v.rep.Problem == nil {
		v.rep.Problem = &Problem{Position: pos, Seq: seq, Kind: kind, Detail: detail}
	}
}

// Report returns what the lines so far show.
func (v *Verifier) Report() Report {
	r := v.rep
	for k := range v.versions {
		r.KeyVersions = append(r.KeyVersions, k)
	}
	slices.Sort(r.KeyVersions)
	if r.Problem != nil {
		p := *r.Problem
		r.Problem = &p
	}
	return r
}

func span(lo, hi uint64) string {
	if lo == hi {
		return fmt.Sprintf("line %d is", lo)
	}
	return fmt.Sprintf("lines %d to %d are", lo, hi)
}
