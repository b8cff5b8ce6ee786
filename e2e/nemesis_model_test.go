package e2e_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// The nemesis workload's model. Histories are partitioned by lineage: the
// objects that one Create or Register made and the keys that Re-key made
// from them, which share the lineage's Name (Re-key moves the Name to the
// replacement, KMIP 1.4 §4.4). A lineage's model holds each generation's
// id, state, dates set, Contact Information and material digest, and which
// generation holds the Name, so that Locate by that Name is checked too.

// Operation kinds of the workload.
const (
	opCreate   = "create"
	opRegister = "register"
	opGet      = "get"
	opAttrs    = "attrs"
	opAdd      = "add"
	opModify   = "modify"
	opDelete   = "delete"
	opActivate = "activate"
	opRevoke   = "revoke"     // reason: cessation of operation
	opCompro   = "compromise" // Revoke, reason: key compromise
	opDestroy  = "destroy"
	opLocate   = "locate"
	opRekey    = "rekey"
)

// maxGenerations bounds a lineage: the workload re-keys a lineage fewer
// times than this.
const maxGenerations = 6

// nemOp is the input of one operation.
type nemOp struct {
	kind    string
	lineage string // the Name
	id      string // the object operated on; "" for create, register, locate
	value   string // add, modify: the Contact Information written
}

// nemResult is what the server answered.
type nemResult struct {
	// unknown: no answer, or an answer that does not say whether the
	// operation ran (General Failure other than "not executed"). The
	// operation may or may not have taken effect.
	unknown bool
	ok      bool
	id      string   // create, register, rekey: the new id
	ids     []string // locate, sorted
	state   string   // attrs
	contact string   // attrs: "" when absent
	names   []string // attrs: the object's Names
	digest  string   // get: of the material
	reason  string   // of a failure, for the report
}

// generation is one object of a lineage.
type generation struct {
	id                     string // "" until learnt (an unknown create or re-key)
	state                  string
	activated, deactivated bool // Activation / Deactivation Date set
	contact                string
	digest                 string // "" until a Get returned it
}

// lineageState is the model state of one lineage; comparable.
type lineageState struct {
	created bool
	n       int // generations
	gens    [maxGenerations]generation
	holder  int // generation that has the Name; -1 none
}

const (
	statePreActive   = "PreActive"
	stateActive      = "Active"
	stateDeactivated = "Deactivated"
	stateCompromised = "Compromised"
	stateDestroyed   = "Destroyed"
	stateDestroyedC  = "DestroyedCompromised"
)

func destroyedState(s string) bool { return s == stateDestroyed || s == stateDestroyedC }

// find returns the generation with id, or -1. The workload operates only
// on ids it was answered, which the model learnt from the same answers.
func (s *lineageState) find(id string) int {
	for i := range s.n {
		if s.gens[i].id == id {
			return i
		}
	}
	return -1
}

// step applies one operation to the model: whether the answer is possible
// in state s, and the state after.
func (s lineageState) step(in nemOp, out nemResult) (bool, lineageState) {
	switch in.kind {
	case opCreate, opRegister:
		if s.created {
			return false, s
		}
		if !out.unknown && !out.ok {
			return true, s // refused: nothing created
		}
		s.created, s.n, s.holder = true, 1, 0
		s.gens[0] = generation{id: out.id, state: statePreActive}
		return true, s
	case opLocate:
		if out.unknown {
			return true, s
		}
		if !out.ok {
			return false, s
		}
		var want []string
		learn := -1
		if s.created && s.holder >= 0 && !destroyedState(s.gens[s.holder].state) {
			if id := s.gens[s.holder].id; id != "" {
				want = []string{id}
			} else {
				learn = s.holder
			}
		}
		if learn >= 0 {
			if len(out.ids) != 1 || s.find(out.ids[0]) >= 0 {
				return false, s
			}
			s.gens[learn].id = out.ids[0]
			return true, s
		}
		return slices.Equal(want, out.ids), s
	}
	if !s.created {
		return false, s
	}
	g := s.find(in.id)
	if g < 0 {
		return false, s
	}
	cur := s.gens[g]
	// expect is what the operation does in this state: ok and the new
	// generation, or refused.
	next, ok := cur, true
	switch in.kind {
	case opGet:
		if out.unknown {
			return true, s
		}
		if destroyedState(cur.state) {
			return !out.ok, s
		}
		if !out.ok {
			return false, s
		}
		if cur.digest == "" {
			s.gens[g].digest = out.digest
			return true, s
		}
		return cur.digest == out.digest, s
	case opAttrs:
		if out.unknown {
			return true, s
		}
		return out.ok && out.state == cur.state && out.contact == cur.contact && slices.Contains(out.names, in.lineage) == (s.holder == g), s
	case opAdd:
		ok = cur.contact == ""
		next.contact = in.value
	case opModify:
		ok = cur.contact != ""
		next.contact = in.value
	case opDelete:
		ok = cur.contact != ""
		next.contact = ""
	case opActivate:
		ok = cur.state == statePreActive
		next.state, next.activated = stateActive, true
	case opRevoke:
		ok = cur.state == stateActive
		next.state, next.deactivated = stateDeactivated, true
	case opCompro:
		switch cur.state {
		case statePreActive, stateActive, stateDeactivated:
			next.state = stateCompromised
		case stateDestroyed:
			next.state = stateDestroyedC
		default:
			ok = false
		}
	case opDestroy:
		switch cur.state {
		case statePreActive, stateDeactivated:
			next.state = stateDestroyed
		case stateCompromised:
			next.state = stateDestroyedC
		default:
			ok = false
		}
	case opRekey:
		ok = !destroyedState(cur.state) && s.n < maxGenerations
		if ok && (out.unknown || out.ok) {
			repl := generation{id: out.id, contact: cur.contact, activated: cur.activated, deactivated: cur.deactivated}
			switch {
			case cur.deactivated:
				repl.state = stateDeactivated
			case cur.activated:
				repl.state = stateActive
			default:
				repl.state = statePreActive
			}
			s.gens[s.n] = repl
			if s.holder == g {
				s.holder = s.n
			}
			s.n++
		}
		return out.unknown || out.ok == ok, s
	default:
		return false, s
	}
	if out.unknown {
		if ok {
			s.gens[g] = next
		}
		return true, s
	}
	if out.ok != ok {
		return false, s
	}
	if ok {
		s.gens[g] = next
	}
	return true, s
}

var nemesisModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byLineage := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			l := op.Input.(nemOp).lineage
			if _, seen := byLineage[l]; !seen {
				order = append(order, l)
			}
			byLineage[l] = append(byLineage[l], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, l := range order {
			out = append(out, byLineage[l])
		}
		return out
	},
	Init: func() any { return lineageState{holder: -1} },
	Step: func(state, input, output any) (bool, any) {
		return state.(lineageState).step(input.(nemOp), output.(nemResult))
	},
	Equal: func(a, b any) bool { return a.(lineageState) == b.(lineageState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(nemOp), output.(nemResult)
		var b strings.Builder
		fmt.Fprintf(&b, "%s(%s", in.kind, in.lineage)
		if in.id != "" {
			fmt.Fprintf(&b, ", %s", in.id)
		}
		if in.value != "" {
			fmt.Fprintf(&b, ", %q", in.value)
		}
		b.WriteString(") -> ")
		switch {
		case out.unknown:
			b.WriteString("unknown")
			if out.reason != "" {
				fmt.Fprintf(&b, " (%s)", out.reason)
			}
		case !out.ok:
			fmt.Fprintf(&b, "refused (%s)", out.reason)
		case in.kind == opAttrs:
			fmt.Fprintf(&b, "%s contact=%q names=%v", out.state, out.contact, out.names)
		case in.kind == opLocate:
			fmt.Fprintf(&b, "%v", out.ids)
		case out.id != "":
			b.WriteString(out.id)
		case out.digest != "":
			b.WriteString(out.digest[:8])
		default:
			b.WriteString("ok")
		}
		return b.String()
	},
	DescribeState: func(state any) string {
		s := state.(lineageState)
		if !s.created {
			return "none"
		}
		var parts []string
		for i := range s.n {
			g := s.gens[i]
			p := fmt.Sprintf("%s:%s", g.id, g.state)
			if g.contact != "" {
				p += " c=" + g.contact
			}
			if i == s.holder {
				p += " (named)"
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "; ")
	},
}

// The nemesis model is not vacuous: each anomaly the suite exists to catch
// fails the check, and a history with unknown outcomes that can be
// explained passes.
func TestNemesisModelRejectsAnomalies(t *testing.T) {
	const l = "lin"
	op := func(client int, call, ret int64, in nemOp, out nemResult) porcupine.Operation {
		in.lineage = l
		if out.unknown {
			ret = math.MaxInt64
		}
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	created := op(0, 0, 10, nemOp{kind: opCreate}, nemResult{ok: true, id: "1"})
	cases := []struct {
		name    string
		history []porcupine.Operation
		ok      bool
	}{
		{"a Get served after an acknowledged Destroy", []porcupine.Operation{created,
			op(0, 20, 30, nemOp{kind: opDestroy, id: "1"}, nemResult{ok: true}),
			op(1, 40, 50, nemOp{kind: opGet, id: "1"}, nemResult{ok: true, digest: "d"})}, false},
		{"a Locate that misses an acknowledged create", []porcupine.Operation{created,
			op(1, 20, 30, nemOp{kind: opLocate}, nemResult{ok: true})}, false},
		{"a read of an overwritten value", []porcupine.Operation{created,
			op(0, 20, 30, nemOp{kind: opAdd, id: "1", value: "a"}, nemResult{ok: true}),
			op(0, 40, 50, nemOp{kind: opModify, id: "1", value: "b"}, nemResult{ok: true}),
			op(1, 60, 70, nemOp{kind: opAttrs, id: "1"}, nemResult{ok: true, state: statePreActive, contact: "a", names: []string{l}})}, false},
		{"material that changes", []porcupine.Operation{created,
			op(0, 20, 30, nemOp{kind: opGet, id: "1"}, nemResult{ok: true, digest: "d1"}),
			op(1, 40, 50, nemOp{kind: opGet, id: "1"}, nemResult{ok: true, digest: "d2"})}, false},
		{"a state going back", []porcupine.Operation{created,
			op(0, 20, 30, nemOp{kind: opActivate, id: "1"}, nemResult{ok: true}),
			op(1, 40, 50, nemOp{kind: opAttrs, id: "1"}, nemResult{ok: true, state: statePreActive, names: []string{l}})}, false},
		{"the Name left on a re-keyed key", []porcupine.Operation{created,
			op(0, 20, 30, nemOp{kind: opRekey, id: "1"}, nemResult{ok: true, id: "2"}),
			op(1, 40, 50, nemOp{kind: opLocate}, nemResult{ok: true, ids: []string{"1"}})}, false},
		{"an unknown create found later, and unknown writes taking effect or not", []porcupine.Operation{
			op(0, 0, 0, nemOp{kind: opCreate}, nemResult{unknown: true}),
			op(1, 20, 30, nemOp{kind: opLocate}, nemResult{ok: true, ids: []string{"7"}}),
			op(1, 40, 50, nemOp{kind: opActivate, id: "7"}, nemResult{unknown: true}),
			op(2, 60, 70, nemOp{kind: opDestroy, id: "7"}, nemResult{reason: "wrong state"}),
			op(2, 80, 90, nemOp{kind: opAdd, id: "7", value: "x"}, nemResult{unknown: true}),
			op(1, 100, 110, nemOp{kind: opAttrs, id: "7"}, nemResult{ok: true, state: stateActive, names: []string{l}}),
			op(1, 120, 130, nemOp{kind: opRekey, id: "7"}, nemResult{ok: true, id: "8"}),
			op(2, 140, 150, nemOp{kind: opAttrs, id: "8"}, nemResult{ok: true, state: stateActive, contact: "x", names: []string{l}}),
			op(2, 160, 170, nemOp{kind: opLocate}, nemResult{ok: true, ids: []string{"8"}})}, true},
	}
	for _, tc := range cases {
		if got := porcupine.CheckOperations(nemesisModel, tc.history); got != tc.ok {
			t.Errorf("%s: check = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
