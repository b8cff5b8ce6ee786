package fsm

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// errorCodes names every domain error a Result may carry, so a result can
// cross the network from the leader to the node that forwarded the command.
var errorCodes = map[string]error{
	"not_found":        ErrNotFound,
	"exists":           ErrExists,
	"wrong_state":      ErrWrongState,
	"malformed":        ErrMalformed,
	"invalid_value":    ErrInvalidValue,
	"duplicate":        ErrDuplicateCall,
	"no_attribute":     ErrNoAttribute,
	"index_range":      ErrIndexRange,
	"single_valued":    ErrSingleValued,
	"not_modifiable":   ErrNotModifiable,
	"bad_snapshot":     ErrBadSnapshot,
	"conflict":         ErrConflict,
	"archived":         ErrArchived,
	"not_applicable":   ErrNotApplicable,
	"usage_exhausted":  ErrUsageExhausted,
	"token_unknown":    ErrTokenUnknown,
	"token_expired":    ErrTokenExpired,
	"too_many_tokens":  ErrTooManyTokens,
	"other_cluster":    ErrOtherCluster,
	"key_in_use":       ErrKeyInUse,
	"retired_key":      ErrRetiredKey,
	"policy_refused":   ErrPolicyRefused,
	"no_policy_entry":  ErrNoPolicyEntry,
	"no_authority":     ErrNoAuthority,
	"too_many_certs":   ErrTooManyCertificates,
	"too_many_revoked": ErrTooManyRevoked,
	"object_quota":     ErrObjectQuota,
	"byte_quota":       ErrByteQuota,
	"too_many_attrs":   ErrTooManyAttrs,
	"attr_too_large":   ErrAttrTooLarge,
	"unknown_failure":  errUnknownFailure,
}

var errUnknownFailure = errors.New("fsm: command failed")

// EncodeResult serialises what Apply returned.
func (f *FSM) EncodeResult(v any) ([]byte, error) {
	r, ok := v.(*Result)
	if !ok {
		return nil, fmt.Errorf("fsm: cannot encode result of type %T", v)
	}
	p := &kmsdpb.ApplyResult{Index: r.Index, Ids: r.IDs, Undo: r.Undo}
	if r.Err != nil {
		p.Error = "unknown_failure"
		for code, sentinel := range errorCodes {
			if errors.Is(r.Err, sentinel) {
				p.Error = code
				break
			}
		}
	}
	return proto.Marshal(p)
}

// DecodeResult is the inverse of EncodeResult.
func (f *FSM) DecodeResult(b []byte) (any, error) {
	p := &kmsdpb.ApplyResult{}
	if err := proto.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("fsm: decode result: %w", err)
	}
	r := &Result{Index: p.GetIndex(), IDs: p.GetIds(), Undo: p.GetUndo()}
	if code := p.GetError(); code != "" {
		err, ok := errorCodes[code]
		if !ok {
			err = errUnknownFailure
		}
		r.Err = err
	}
	return r, nil
}
