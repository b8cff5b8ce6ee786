package fsm

import (
	"errors"
	"fmt"

	memdb "github.com/hashicorp/go-memdb"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrUsageExhausted reports a usage allocation larger than what remains of
// the object's Usage Limits Count.
var ErrUsageExhausted = errors.New("fsm: usage allocation exceeds the remaining Usage Limits Count")

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_ALLOCATE_USAGE, func() *kmsdpb.AllocateUsage { return &kmsdpb.AllocateUsage{} }, applyAllocateUsage)
	register(kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, func() *kmsdpb.MarkNotFresh { return &kmsdpb.MarkNotFresh{} }, applyMarkNotFresh)
}

// applyAllocateUsage takes an amount from the object's Usage Limits Count
// (KMIP 1.4 §4.18). The checks run here, at apply time, so that concurrent
// allocations on different nodes can never hand out more than the Total.
func applyAllocateUsage(tx *memdb.Txn, c *applyCtx, body *kmsdpb.AllocateUsage) ([]string, error) {
	amount := body.GetAmount()
	if body.GetId() == "" || amount <= 0 {
		return nil, fmt.Errorf("%w: allocation needs an id and a positive amount", ErrMalformed)
	}
	return mutate(tx, c, body.GetId(), func(o *Object) error {
		if o.Archived() {
			return ErrArchived
		}
		v, _ := o.Attr(kmip.AttributeNameUsageLimits)
		ul, ok := v.(kmip.UsageLimits)
		if !ok {
			return fmt.Errorf("%w: no Usage Limits", ErrNotApplicable)
		}
		// §4.18: "The operation SHALL only be requested during the time that
		// protection is enabled for these objects (i.e., after the Activation
		// Date and before the Protect Stop Date)."
		settle(o, c.now)
		if o.StoredState() != kmip.StateActive {
			return ErrWrongState
		}
		if stop := o.Date(kmip.AttributeNameProtectStopDate); !stop.IsZero() && !c.now.Before(stop) {
			return ErrWrongState
		}
		remaining := ul.UsageLimitsTotal
		if ul.UsageLimitsCount != nil {
			remaining = *ul.UsageLimitsCount
		}
		if amount > remaining {
			return ErrUsageExhausted
		}
		left := remaining - amount
		ul.UsageLimitsCount = &left // a new pointer: stored values are shared
		o.SetAttr(kmip.AttributeNameUsageLimits, ul)
		touch(o, c.now)
		return nil
	})
}

// applyMarkNotFresh records that objects were served to a client: KMIP 1.4
// §3.34, the server SHALL set Fresh to False "as soon as the object has been
// served". An object that is not fresh is left as it is. Of the objects in
// Ids, cleared after the answer that served them, those destroyed or gone
// since are skipped.
func applyMarkNotFresh(tx *memdb.Txn, c *applyCtx, body *kmsdpb.MarkNotFresh) ([]string, error) {
	var touched []string
	if body.GetId() == "" && len(body.GetIds()) == 0 {
		return nil, fmt.Errorf("%w: no object to mark", ErrMalformed)
	}
	if body.GetId() != "" {
		ids, err := mutate(tx, c, body.GetId(), markNotFresh(c))
		if err != nil {
			return nil, err
		}
		touched = append(touched, ids...)
	}
	for _, id := range body.GetIds() {
		ids, err := mutate(tx, c, id, markNotFresh(c))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		touched = append(touched, ids...)
	}
	return touched, nil
}

func markNotFresh(c *applyCtx) func(*Object) error {
	return func(o *Object) error {
		if v, _ := o.Attr(kmip.AttributeNameFresh); v != true {
			return nil
		}
		o.SetAttr(kmip.AttributeNameFresh, false)
		touch(o, c.now)
		return nil
	}
}
