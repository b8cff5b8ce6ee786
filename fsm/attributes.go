package fsm

import (
	"errors"
	"fmt"
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Attribute errors.
var (
	ErrNoAttribute   = errors.New("fsm: attribute not present")
	ErrIndexRange    = errors.New("fsm: attribute index out of range")
	ErrSingleValued  = errors.New("fsm: attribute is single-valued and already present")
	ErrNotModifiable = errors.New("fsm: attribute cannot be changed in the object's state")
)

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_ADD_ATTRIBUTE, func() *kmsdpb.AddAttribute { return &kmsdpb.AddAttribute{} }, applyAddAttribute)
	register(kmsdpb.CommandType_COMMAND_TYPE_MODIFY_ATTRIBUTE, func() *kmsdpb.ModifyAttribute { return &kmsdpb.ModifyAttribute{} }, applyModifyAttribute)
	register(kmsdpb.CommandType_COMMAND_TYPE_DELETE_ATTRIBUTE, func() *kmsdpb.DeleteAttribute { return &kmsdpb.DeleteAttribute{} }, applyDeleteAttribute)
}

// checkChangeable applies the attribute rules (attrrules.go) that hold for
// every command: the store's own attributes never change, and some dates
// change only in some states.
func checkChangeable(o *Object, name kmip.AttributeName, now time.Time) error {
	if slices.Contains(protected, name) {
		return fmt.Errorf("%w: %s", ErrNotModifiable, name)
	}
	states, bound := changeableStates(name)
	if !bound {
		return nil
	}
	s := EffectiveState(o, now)
	for _, ok := range states {
		if s == ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNotModifiable, name)
}

// position returns where the index-th instance of name sits in o.Attrs.
func position(o *Object, name kmip.AttributeName, index int32) (int, error) {
	n := int32(0)
	for i, a := range o.Attrs {
		if a.AttributeName != name {
			continue
		}
		if n == index {
			return i, nil
		}
		n++
	}
	if n == 0 {
		return -1, ErrNoAttribute
	}
	return -1, ErrIndexRange
}

// applyAddAttribute adds an instance, within the per-object limits and the
// tenant's quota.
func applyAddAttribute(tx *memdb.Txn, c *applyCtx, body *kmsdpb.AddAttribute) ([]string, error) {
	if err := checkAttrSizes([][]byte{body.GetAttribute()}); err != nil {
		return nil, err
	}
	a, err := DecodeAttribute(body.GetAttribute())
	if err != nil {
		return nil, err
	}
	return growing(tx, c.cmd.GetActor(), func() ([]string, error) {
		return mutate(tx, c, body.GetId(), func(o *Object) error {
			if err := checkChangeable(o, a.AttributeName, c.now); err != nil {
				return err
			}
			if body.GetSingleInstance() {
				if _, present := o.Attr(a.AttributeName); present {
					return ErrSingleValued
				}
			}
			if len(o.Attrs) >= MaxObjectAttrs {
				return ErrTooManyAttrs
			}
			o.Attrs = append(o.Attrs, a)
			touch(o, c.now)
			return nil
		})
	})
}

// applyModifyAttribute replaces an instance; a larger value must fit the
// tenant's quota.
func applyModifyAttribute(tx *memdb.Txn, c *applyCtx, body *kmsdpb.ModifyAttribute) ([]string, error) {
	if err := checkAttrSizes([][]byte{body.GetAttribute()}); err != nil {
		return nil, err
	}
	a, err := DecodeAttribute(body.GetAttribute())
	if err != nil {
		return nil, err
	}
	return growing(tx, c.cmd.GetActor(), func() ([]string, error) { return modifyAttribute(tx, c, body, a) })
}

func modifyAttribute(tx *memdb.Txn, c *applyCtx, body *kmsdpb.ModifyAttribute, a kmip.Attribute) ([]string, error) {
	return mutate(tx, c, body.GetId(), func(o *Object) error {
		if err := checkChangeable(o, a.AttributeName, c.now); err != nil {
			return err
		}
		i, err := position(o, a.AttributeName, body.GetIndex())
		if err != nil {
			return err
		}
		o.Attrs[i] = a
		touch(o, c.now)
		return nil
	})
}

func applyDeleteAttribute(tx *memdb.Txn, c *applyCtx, body *kmsdpb.DeleteAttribute) ([]string, error) {
	name := kmip.AttributeName(body.GetName())
	return mutate(tx, c, body.GetId(), func(o *Object) error {
		if err := checkChangeable(o, name, c.now); err != nil {
			return err
		}
		i, err := position(o, name, body.GetIndex())
		if err != nil {
			return err
		}
		o.Attrs = append(o.Attrs[:i:i], o.Attrs[i+1:]...)
		touch(o, c.now)
		return nil
	})
}
