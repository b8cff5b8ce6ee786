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
func objectDigest(o *Object) []byte { return storedDigest(o.ID, o.ToProto()) }

// storedProto converts a stored row for an undo step. Only a bug can store
// a row that does not convert, and an undo must not be built without it.
func storedProto(r *row) *kmsdpb.StoredObject {
	p, err := r.toProto()
	if err != nil {
		panic(err.Error())
	}
	return p
}

func storedDigest(id string, p *kmsdpb.StoredObject) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("fsm: cannot marshal object %q: %v", id, err))
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
		if before, ok := ch.Before.(*row); ok && before != nil {
			step.Id, step.Restore = before.ID, storedProto(before)
		}
		if after, ok := ch.After.(*row); ok && after != nil {
			step.Id, step.Expect = after.ID, storedDigest(after.ID, storedProto(after))
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
			if err := deleteObject(tx, cur.ID); err != nil {
				return nil, err
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
