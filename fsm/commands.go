package fsm

import (
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, func() *kmsdpb.CreateObjects { return &kmsdpb.CreateObjects{} }, applyCreate)
	register(kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, func() *kmsdpb.Activate { return &kmsdpb.Activate{} }, applyActivate)
	register(kmsdpb.CommandType_COMMAND_TYPE_REVOKE, func() *kmsdpb.Revoke { return &kmsdpb.Revoke{} }, applyRevoke)
	register(kmsdpb.CommandType_COMMAND_TYPE_DESTROY, func() *kmsdpb.Destroy { return &kmsdpb.Destroy{} }, applyDestroy)
}

// applyCreate stores new objects (one, or the halves of a key pair) all or
// nothing, within the tenant's quota. The store assigns the server-managed
// attributes.
func applyCreate(tx *memdb.Txn, c *applyCtx, body *kmsdpb.CreateObjects) ([]string, error) {
	if len(body.GetObjects()) == 0 {
		return nil, fmt.Errorf("%w: no objects", ErrMalformed)
	}
	if c.cmd.GetActor() == "" {
		return nil, fmt.Errorf("%w: no actor", ErrMalformed)
	}
	return growing(tx, c.cmd.GetActor(), func() ([]string, error) { return createObjects(tx, c, body) })
}

func createObjects(tx *memdb.Txn, c *applyCtx, body *kmsdpb.CreateObjects) ([]string, error) {
	ids := make([]string, 0, len(body.GetObjects()))
	for _, p := range body.GetObjects() {
		if err := checkAttrSizes(p.GetAttributes()); err != nil {
			return nil, err
		}
		o, err := ObjectFromProto(p)
		if err != nil {
			return nil, err
		}
		if o.ID == "" {
			return nil, fmt.Errorf("%w: empty object id", ErrMalformed)
		}
		if _, ok := o.Attr(kmip.AttributeNameObjectType); !ok {
			return nil, fmt.Errorf("%w: object %q has no Object Type", ErrMalformed, o.ID)
		}
		for _, name := range singleInstance {
			if len(o.AttrAll(name)) > 1 {
				return nil, fmt.Errorf("%w: object %q has %s more than once", ErrMalformed, o.ID, name)
			}
		}
		if hasObject(tx, o.ID) {
			return nil, ErrExists
		}
		if err := checkKeyVersion(tx, o.Material); err != nil {
			return nil, err
		}
		o.Owner = c.cmd.GetActor()
		o.Creator = c.cmd.GetIdentity()
		o.Revision = c.index
		o.Attrs = withoutAttrs(o.Attrs, serverManaged)
		o.Attrs = append([]kmip.Attribute{{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: o.ID}}, o.Attrs...)
		if hasLifecycle(o) {
			o.SetAttr(kmip.AttributeNameState, kmip.StatePreActive)
		}
		o.SetAttr(kmip.AttributeNameInitialDate, c.now)
		o.SetAttr(kmip.AttributeNameLastChangeDate, c.now)
		if err := putObject(tx, o); err != nil {
			return nil, err
		}
		ids = append(ids, o.ID)
	}
	return ids, nil
}

func withoutAttrs(attrs []kmip.Attribute, names []kmip.AttributeName) []kmip.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		drop := false
		for _, n := range names {
			if a.AttributeName == n {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

// mutate loads an object the actor owns, applies change to it and stores it.
func mutate(tx *memdb.Txn, c *applyCtx, id string, change func(*Object) error) ([]string, error) {
	cur, err := getObject(tx, id)
	if err != nil {
		return nil, err
	}
	if cur.Owner != c.cmd.GetActor() {
		// Another tenant's object does not exist for this actor.
		return nil, ErrNotFound
	}
	if err := change(cur); err != nil {
		return nil, err
	}
	if err := putObject(tx, cur); err != nil {
		return nil, err
	}
	return []string{id}, nil
}

func applyActivate(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Activate) ([]string, error) {
	return mutate(tx, c, body.GetId(), func(o *Object) error { return activate(o, c.now) })
}

func applyRevoke(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Revoke) ([]string, error) {
	if body.GetReasonCode() == 0 {
		return nil, fmt.Errorf("%w: no revocation reason", ErrMalformed)
	}
	reason := kmip.RevocationReason{
		RevocationReasonCode: kmip.RevocationReasonCode(body.GetReasonCode()),
		RevocationMessage:    body.GetMessage(),
	}
	var occurred time.Time
	if ns := body.GetCompromiseOccurrenceUnixNano(); ns != 0 {
		occurred = time.Unix(0, ns).UTC().Truncate(time.Second)
	}
	return mutate(tx, c, body.GetId(), func(o *Object) error { return revoke(o, c.now, reason, occurred) })
}

func applyDestroy(tx *memdb.Txn, c *applyCtx, body *kmsdpb.Destroy) ([]string, error) {
	cur, err := getObject(tx, body.GetId())
	if err == nil && cur.Owner == c.cmd.GetActor() && !hasLifecycle(cur) {
		// Objects without a life-cycle (templates) hold no key material
		// whose metadata must outlive it: Destroy removes them.
		if err := deleteObject(tx, cur.ID); err != nil {
			return nil, err
		}
		return []string{cur.ID}, nil
	}
	return mutate(tx, c, body.GetId(), func(o *Object) error { return destroy(o, c.now) })
}

// hasLifecycle reports whether the object has a KMIP State: every object but
// a Template (KMIP 1.4 §3.22 applies State to cryptographic objects; the
// OASIS test cases record templates without one).
func hasLifecycle(o *Object) bool {
	return o.ObjectType() != kmip.ObjectTypeTemplate
}
