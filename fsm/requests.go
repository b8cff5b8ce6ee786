package fsm

import (
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// An applied request id is remembered for requestTTL of command time and
// for the next requestWindow log entries, whichever ends first. A proposal
// is retried (after a lost leader, say) only within the node's apply timeout
// (10 s by default), so a retry within either bound is applied at most once;
// the window bounds the memory this takes under sustained load: at 10,000
// writes a second it still spans 20 s.
const (
	requestTTL    = 2 * time.Minute
	requestWindow = 200_000
)

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

// rememberRequest records a successful command and forgets, oldest entry
// first, those older than requestTTL in command time or requestWindow in log
// entries; both are replicated, so every replica forgets the same ones.
func rememberRequest(tx *memdb.Txn, c *applyCtx, ids []string) error {
	now := c.cmd.GetTimeUnixNano()
	if len(c.cmd.GetRequestId()) > 0 {
		r := &appliedRequest{ID: string(c.cmd.GetRequestId()), Index: c.index, Time: now, IDs: ids}
		if err := tx.Insert(tableRequests, r); err != nil {
			return fmt.Errorf("fsm: remember request: %w", err)
		}
	}
	cutoff := now - int64(requestTTL)
	it, err := tx.Get(tableRequests, indexLogIndex)
	if err != nil {
		return err
	}
	var expired []any
	for raw := it.Next(); raw != nil; raw = it.Next() {
		r := raw.(*appliedRequest)
		if r.Time >= cutoff && r.Index+requestWindow > c.index {
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
