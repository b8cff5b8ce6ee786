package fsm

import (
	"errors"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrArchived reports an operation that needs an on-line object.
var ErrArchived = errors.New("fsm: object is archived")

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_ARCHIVE, func() *kmsdpb.Archive { return &kmsdpb.Archive{} }, applyArchive)
	register(kmsdpb.CommandType_COMMAND_TYPE_RECOVER, func() *kmsdpb.Recover { return &kmsdpb.Recover{} }, applyRecover)
}

// Archived reports whether the object is in archival storage. The Archive
// Date is the whole of that state: KMIP 1.4 §3.32 has the server set it on
// Archive and delete it on Recover.
//
// An archived object keeps its metadata and its sealed material in the
// store; only the operations that use the object are refused.
func (o *Object) Archived() bool {
	_, ok := o.Attr(kmip.AttributeNameArchiveDate)
	return ok
}

// applyArchive places an object in archival storage (KMIP 1.4 §4.23).
func applyArchive(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Archive) ([]string, error) {
	return mutate(tx, c, body.GetId(), func(o *Object) error {
		if o.Archived() {
			return ErrArchived
		}
		o.SetAttr(kmip.AttributeNameArchiveDate, c.now)
		touch(o, c.now)
		return nil
	})
}

// applyRecover brings an archived object back on-line (KMIP 1.4 §4.24). An
// object that is on-line already is left as it is: the client's goal holds.
func applyRecover(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Recover) ([]string, error) {
	return mutate(tx, c, body.GetId(), func(o *Object) error {
		if !o.Archived() {
			return nil
		}
		o.Attrs = withoutAttrs(o.Attrs, []kmip.AttributeName{kmip.AttributeNameArchiveDate})
		touch(o, c.now)
		return nil
	})
}
