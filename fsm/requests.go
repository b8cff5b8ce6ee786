package fsm

import (
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// requestTTL is how long an applied request id is remembered. A proposal
// retried within this window (after a lost leader, say) is applied at most
// once.
const requestTTL = 15 * time.Minute

// appliedRequest remembers one successfully applied command.
type appliedRequest struct {
	ID    string // the command's request id
	Index uint64
	Time  int64 // the command's time, Unix nanoseconds
	IDs   []string
}

// seenRequest returns the earlier result of a command with the same request id.
func seenRequest(tx *memdb.Txn, reqID []byte) (*appliedRequest, error) {
	if len(reqID) == 0 {
		return nil, nil
	}
	raw, err := tx.First(tableRequests, indexID, string(reqID))
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*appliedRequest), nil
}

// rememberRequest records a successful command and forgets the ones older than
// requestTTL, measured in command time so every replica forgets the same ones.
func rememberRequest(tx *memdb.Txn, c *applyCtx, ids []string) error {
	now := c.cmd.GetTimeUnixNano()
	if len(c.cmd.GetRequestId()) > 0 {
		r := &appliedRequest{ID: string(c.cmd.GetRequestId()), Index: c.index, Time: now, IDs: ids}
		if err := tx.Insert(tableRequests, r); err != nil {
			return fmt.Errorf("fsm: remember request: %w", err)
		}
	}
	cutoff := now - int64(requestTTL)
	it, err := tx.Get(tableRequests, indexTime)
	if err != nil {
		return err
	}
	var expired []any
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if raw.(*appliedRequest).Time >= cutoff {
			break
		}
		expired = append(expired, raw)
	}
	for _, raw := range expired {
		if err := tx.Delete(tableRequests, raw); err != nil {
			return err
		}
	}
	return nil
}

func (r *appliedRequest) toProto() *kmsdpb.AppliedRequest {
	return &kmsdpb.AppliedRequest{RequestId: []byte(r.ID), Index: r.Index, TimeUnixNano: r.Time, Ids: r.IDs}
}

func requestFromProto(p *kmsdpb.AppliedRequest) *appliedRequest {
	return &appliedRequest{ID: string(p.GetRequestId()), Index: p.GetIndex(), Time: p.GetTimeUnixNano(), IDs: p.GetIds()}
}
