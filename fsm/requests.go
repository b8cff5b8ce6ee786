package fsm

import (
	"cmp"
	"slices"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// An applied request id is remembered for the next requestWindow log
// entries. A proposal is retried (after a lost leader, say) only within the
// node's apply timeout (10 s by default), and at 10,000 writes a second the
// window still spans 20 s, so a retry is applied at most once. Counting in
// log entries rather than time makes the window the same on every replica
// whatever their clocks and however raft batches the entries, and bounds
// its memory (a few tens of MB) under any load.
const requestWindow = 200_000

// appliedRequest remembers one successfully applied command.
type appliedRequest struct {
	ID    string // the command's request id
	Index uint64
	Time  int64 // the command's time, Unix nanoseconds
	IDs   []string
}

// requestLog holds the applied requests of the window, with the ones the
// current store transaction added kept apart until it commits.
type requestLog struct {
	byID  map[string]*appliedRequest
	order []*appliedRequest // increasing Index: the oldest first

	pending     []*appliedRequest
	pendingByID map[string]*appliedRequest
}

func newRequestLog() *requestLog {
	return &requestLog{byID: map[string]*appliedRequest{}, pendingByID: map[string]*appliedRequest{}}
}

// seen returns the earlier result of a command with the same request id, if
// that command is within the window of the command at index.
func (l *requestLog) seen(reqID []byte, index uint64) *appliedRequest {
	if len(reqID) == 0 {
		return nil
	}
	if r := l.pendingByID[string(reqID)]; r != nil {
		return r
	}
	if r := l.byID[string(reqID)]; r != nil && r.Index+requestWindow > index {
		return r
	}
	return nil
}

// remember records a successful command of the current transaction.
func (l *requestLog) remember(c *applyCtx, ids []string) {
	id := c.cmd.GetRequestId()
	if len(id) == 0 {
		return
	}
	r := &appliedRequest{ID: string(id), Index: c.index, Time: c.cmd.GetTimeUnixNano(), IDs: ids}
	l.pending = append(l.pending, r)
	l.pendingByID[r.ID] = r
}

// commit keeps what the transaction remembered and forgets the requests
// that fell out of the window of index, the transaction's last command.
func (l *requestLog) commit(index uint64) {
	for _, r := range l.pending {
		l.byID[r.ID] = r
		l.order = append(l.order, r)
	}
	l.abort()
	n := 0
	for n < len(l.order) && l.order[n].Index+requestWindow <= index {
		if r := l.order[n]; l.byID[r.ID] == r {
			delete(l.byID, r.ID)
		}
		n++
	}
	// The forgotten entries are left in place for the snapshots that share
	// the array (snapshot); append drops them when it moves the rest.
	l.order = l.order[n:]
}

// abort drops what the transaction remembered.
func (l *requestLog) abort() {
	l.pending = l.pending[:0]
	clear(l.pendingByID)
}

// snapshot returns the remembered requests, in log order. It copies
// nothing, so that taking a snapshot does not hold up Apply: the result
// shares the log's array, whose elements are never written again (commit
// only appends past them and moves its start forward).
func (l *requestLog) snapshot() []*appliedRequest { return slices.Clip(l.order) }

// byRequestID returns requests in request id order, the order of the
// snapshot format.
func byRequestID(rs []*appliedRequest) []*appliedRequest {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b *appliedRequest) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// restore adds a request read from a snapshot; call sorted afterwards.
func (l *requestLog) restore(r *appliedRequest) {
	l.byID[r.ID] = r
	l.order = append(l.order, r)
}

// sorted puts the restored requests in log order.
func (l *requestLog) sorted() {
	slices.SortFunc(l.order, func(a, b *appliedRequest) int { return cmp.Compare(a.Index, b.Index) })
}

func (r *appliedRequest) toProto() *kmsdpb.AppliedRequest {
	return &kmsdpb.AppliedRequest{RequestId: []byte(r.ID), Index: r.Index, TimeUnixNano: r.Time, Ids: r.IDs}
}

func requestFromProto(p *kmsdpb.AppliedRequest) *appliedRequest {
	return &appliedRequest{ID: string(p.GetRequestId()), Index: p.GetIndex(), Time: p.GetTimeUnixNano(), IDs: p.GetIds()}
}
