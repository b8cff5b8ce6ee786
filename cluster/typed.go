package cluster

import (
	"context"
	"fmt"
)

// Raft hands the state machine's answer back untyped, and this package does
// not know the state machine's types. A consumer that does (the KMIP front
// end wants an *fsm.Result) names the type once, here, and gets a typed
// seam instead of asserting at every call.

// ApplyAs commits cmd like n.Apply and returns the state machine's answer
// as R; an answer of another type is an error.
func ApplyAs[R any](ctx context.Context, n *Node, cmd []byte) (R, error) {
	return resultAs[R](n.Apply(ctx, cmd))
}

// Typed is a Node whose Apply returns the state machine's answer as R.
type Typed[R any] struct{ *Node }

// Apply commits cmd (see Node.Apply) and returns the answer as R.
func (t Typed[R]) Apply(ctx context.Context, cmd []byte) (R, error) {
	return ApplyAs[R](ctx, t.Node, cmd)
}

func resultAs[R any](out any, err error) (R, error) {
	var zero R
	if err != nil {
		return zero, err
	}
	r, ok := out.(R)
	if !ok {
		return zero, fmt.Errorf("cluster: the state machine answered %T, not %T", out, zero)
	}
	return r, nil
}
