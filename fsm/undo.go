package fsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrConflict refuses an undo: an object changed after the command that is
// being undone.
var ErrConflict = errors.New("fsm: object changed since; cannot undo")

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_UNDO, func() *kmsdpb.Undo { return &kmsdpb.Undo{} }, applyUndo)
}

// objectDigest identifies one exact version of an object.
func objectDigest(o *Object) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(o.ToProto())
	if err != nil {
		panic(fmt.Sprintf("fsm: cannot marshal object %q: %v", o.ID, err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// inverse turns the changes a command made to the objects table into the
// steps that revert them.
func inverse(changes memdb.Changes) *kmsdpb.Undo {
	u := &kmsdpb.Undo{}
	for _, ch := range changes {
		if ch.Table != tableObjects {
			continue
		}
		step := &kmsdpb.UndoStep{}
		if before, ok := ch.Before.(*Object); ok && before != nil {
			step.Id, step.Restore = before.ID, before.ToProto()
		}
		if after, ok := ch.After.(*Object); ok && after != nil {
			step.Id, step.Expect = after.ID, objectDigest(after)
		}
		u.Steps = append(u.Steps, step)
	}
	return u
}

// applyUndo reverts earlier commands; the client's batch asked for it after
// one of its items failed. Nothing is changed unless every object is still
// exactly as those commands left it.
func applyUndo(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Undo) ([]string, error) {
	if len(body.GetSteps()) == 0 {
		return nil, fmt.Errorf("%w: nothing to undo", ErrMalformed)
	}
	var ids []string
	for _, step := range body.GetSteps() {
		if step.GetId() == "" {
			return nil, fmt.Errorf("%w: undo step without an object id", ErrMalformed)
		}
		cur, err := getObject(tx, step.GetId())
		switch {
		case errors.Is(err, ErrNotFound):
			if len(step.GetExpect()) > 0 {
				return nil, ErrConflict
			}
		case err != nil:
			return nil, err
		case len(step.GetExpect()) == 0 || !bytes.Equal(objectDigest(cur), step.GetExpect()) || cur.Owner != c.cmd.GetActor():
			return nil, ErrConflict
		default:
			if err := tx.Delete(tableObjects, cur); err != nil {
				return nil, fmt.Errorf("fsm: undo %q: %w", cur.ID, err)
			}
		}
		if r := step.GetRestore(); r != nil {
			o, err := ObjectFromProto(r)
			if err != nil {
				return nil, err
			}
			if err := putObject(tx, o); err != nil {
				return nil, err
			}
		}
		ids = append(ids, step.GetId())
	}
	return ids, nil
}
