package conformance

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// Session is the state one vector builds up across its steps: bound
// variables and the unique identifiers of objects the server generated.
type Session struct {
	Tolerance time.Duration
	vars      map[string]any
	created   map[string]bool
	lastByTag map[int]any // leaf values that occurred once in a response, latest response wins
	recorded  map[string]bool
}

// NewSession returns an empty session with DefaultTolerance.
func NewSession() *Session {
	return &Session{
		Tolerance: DefaultTolerance,
		vars:      map[string]any{},
		created:   map[string]bool{},
		lastByTag: map[int]any{},
		recorded:  map[string]bool{},
	}
}

// Recorded tells the session which variables the recorded responses of the
// vector bind; only the others may take Substitute's fallback.
func (s *Session) Recorded(steps []Step) {
	var walk func(v ttlv.Value)
	walk = func(v ttlv.Value) {
		switch x := v.Value.(type) {
		case Var:
			s.recorded[x.Name] = true
		case ttlv.Struct:
			for _, f := range x {
				walk(f)
			}
		}
	}
	for _, st := range steps {
		walk(st.Response)
	}
}

// Bound returns the value bound to a variable such as "$UNIQUE_IDENTIFIER_0".
func (s *Session) Bound(name string) (any, bool) {
	v, ok := s.vars[name]
	return v, ok
}

// Created reports whether the server generated the object with this id.
func (s *Session) Created(id string) bool { return s.created[id] }

func (s *Session) clone() *Session {
	c := *s
	c.vars = maps.Clone(s.vars)
	return &c
}

// Substitute returns the request with every variable replaced by its bound
// value and every $NOW by its time. A variable not bound by an earlier
// response is an error: the vector cannot be replayed.
//
// One exception: a few vectors (CS-AC-M-6, CS-BC-M-13) send "$MAC_DATA" or
// "$DATA_0" where the recorded response held a literal, meaning "the value
// the server returned". A variable that no recorded response binds (see
// Recorded) is bound to the value of the same tag in the latest response
// that had exactly one such field.
func (s *Session) Substitute(req ttlv.Value) (ttlv.Value, error) {
	switch v := req.Value.(type) {
	case Var:
		bound, ok := s.vars[v.Name]
		if !ok && !s.recorded[v.Name] {
			bound, ok = s.lastByTag[req.Tag]
			if ok {
				s.vars[v.Name] = bound
			}
		}
		if !ok {
			return req, fmt.Errorf("unbound variable %s in request (%s)", v.Name, ttlv.TagString(req.Tag))
		}
		if typeOf(bound) != v.Type {
			return req, fmt.Errorf("variable %s is a %s, the request needs a %s", v.Name, typeOf(bound), v.Type)
		}
		return ttlv.Value{Tag: req.Tag, Value: bound}, nil
	case Now:
		return ttlv.Value{Tag: req.Tag, Value: v.T.Truncate(time.Second)}, nil
	case ttlv.Struct:
		out := make(ttlv.Struct, len(v))
		for i, f := range v {
			var err error
			if out[i], err = s.Substitute(f); err != nil {
				return req, err
			}
		}
		return ttlv.Value{Tag: req.Tag, Value: out}, nil
	}
	return req, nil
}

// creators are the operations whose responses name objects the server made
// up, with key material the recording cannot predict. Derive Key counts only
// when its base object is itself server-generated: a key derived from a
// client's key is as predictable as that key.
var creators = []kmip.Operation{
	kmip.OperationCreate, kmip.OperationCreateKeyPair, kmip.OperationReKey,
	kmip.OperationReKeyKeyPair, kmip.OperationDeriveKey, kmip.OperationCertify,
	kmip.OperationReCertify, kmip.OperationCreateSplitKey,
}

func (s *Session) noteCreated(req, got ttlv.Value) {
	reqItems := childrenWithTag(req, kmip.TagBatchItem)
	for i, item := range childrenWithTag(got, kmip.TagBatchItem) {
		op, _ := child(fields(item), kmip.TagOperation)
		status, _ := child(fields(item), kmip.TagResultStatus)
		opv, _ := op.Value.(ttlv.Enum)
		if !slices.Contains(creators, kmip.Operation(opv)) || status.Value != ttlv.Enum(kmip.ResultStatusSuccess) {
			continue
		}
		if kmip.Operation(opv) == kmip.OperationDeriveKey && i < len(reqItems) && !s.derivedFromRandom(reqItems[i]) {
			continue // derived from client keys: as predictable as they are
		}
		payload, _ := child(fields(item), kmip.TagResponsePayload)
		for _, f := range fields(payload) {
			switch f.Tag {
			case kmip.TagUniqueIdentifier, kmip.TagPrivateKeyUniqueIdentifier, kmip.TagPublicKeyUniqueIdentifier:
				if id, ok := f.Value.(string); ok {
					s.created[id] = true
				}
			}
		}
	}
}

// noteLeaves remembers the leaves whose tag occurs once in got.
func (s *Session) noteLeaves(got ttlv.Value) {
	count := map[int]int{}
	vals := map[int]any{}
	var walk func(v ttlv.Value)
	walk = func(v ttlv.Value) {
		if st, ok := v.Value.(ttlv.Struct); ok {
			for _, f := range st {
				walk(f)
			}
			return
		}
		count[v.Tag]++
		vals[v.Tag] = v.Value
	}
	walk(got)
	for tag, n := range count {
		if n == 1 {
			s.lastByTag[tag] = vals[tag]
		} else {
			delete(s.lastByTag, tag)
		}
	}
}

// derivedFromRandom reports whether a Derive Key request names a base
// object the server generated.
func (s *Session) derivedFromRandom(reqItem ttlv.Value) bool {
	payload, _ := child(fields(reqItem), kmip.TagRequestPayload)
	for _, id := range childrenWithTag(payload, kmip.TagUniqueIdentifier) {
		if name, ok := id.Value.(string); ok && s.created[name] {
			return true
		}
	}
	return false
}
