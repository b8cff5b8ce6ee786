package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// EncodeResult serialises what Apply returned.
func (f *FSM) EncodeResult(v any) ([]byte, error) {
	r, ok := v.(*Result)
	if !ok {
		return nil, fmt.Errorf("fsm: cannot encode result of type %T", v)
	}
	p := &kmsdpb.ApplyResult{Index: r.Index, Ids: r.IDs, Undo: r.Undo}
	if r.Err != nil {
		p.Error = errorCode(r.Err)
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
		r.Err = errorOfCode(code)
	}
	return r, nil
}
