package fsm

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// decodedEntry is one committed log entry ready to apply.
type decodedEntry struct {
	index uint64
	ctx   *applyCtx
	def   command
	body  proto.Message
}

// ApplyLogs applies consecutive committed entries (indexes[i] holds
// data[i]) and returns one *Result each, exactly what Apply would have
// returned for each in turn. Runs of commands share one store transaction,
// which saves the copying of the store's index trees that each commit
// does. A command that fails must leave no trace, and a transaction cannot
// be partly rolled back, so when one fails the run is applied again without
// it: the commands before it in one transaction, the failed one alone
// (which aborts), the rest as a new run. Commands that must report their
// own changes for an undo are applied alone.
//
// Like Apply it panics on an entry it cannot decode.
func (f *FSM) ApplyLogs(indexes []uint64, data [][]byte) []any {
	entries := make([]decodedEntry, len(data))
	for i, d := range data {
		entries[i] = decodeForApply(indexes[i], d)
	}
	results := make([]any, len(entries))

	f.mu.Lock()
	defer f.mu.Unlock()
	for start := 0; start < len(entries); {
		if entries[start].ctx.cmd.GetUndoable() {
			results[start] = f.applyAlone(entries[start])
			start++
			continue
		}
		end, failed := f.applyRun(entries[start:], results[start:])
		end += start
		if failed {
			if end > start {
				if _, again := f.applyRun(entries[start:end], results[start:end]); again {
					// The same commands on the same state cannot fail
					// the second time unless Apply is not deterministic.
					panic("fsm: a command failed on replay of its batch")
				}
			}
			results[end] = f.applyAlone(entries[end])
			end++
		}
		start = end
	}
	for _, e := range entries {
		if e.index > f.applied {
			f.applied = e.index
		}
	}
	return results
}

// applyRun applies entries in one transaction until the first undoable
// command or the first failure. It commits and returns the number applied,
// or aborts and returns the position of the failed command and true; then
// results before it are to be recomputed.
func (f *FSM) applyRun(entries []decodedEntry, results []any) (int, bool) {
	tx := f.db.Txn(true)
	n := 0
	for ; n < len(entries) && !entries[n].ctx.cmd.GetUndoable(); n++ {
		e := entries[n]
		ids, err := f.applyOnce(tx, e.ctx, e.def, e.body)
		if err != nil {
			tx.Abort()
			f.requests.abort()
			return n, true
		}
		results[n] = &Result{Index: e.index, IDs: ids}
	}
	tx.Commit()
	f.revoked.committed(f.db)
	if n > 0 {
		f.requests.commit(entries[n-1].index)
	}
	return n, false
}

// applyAlone applies one entry in a transaction of its own, as Apply does;
// f.mu is held.
func (f *FSM) applyAlone(e decodedEntry) *Result {
	tx := f.db.Txn(true)
	undoable := e.ctx.cmd.GetUndoable()
	if undoable {
		tx.TrackChanges()
	}
	ids, err := f.applyOnce(tx, e.ctx, e.def, e.body)
	res := &Result{Index: e.index, IDs: ids, Err: err}
	if err != nil {
		tx.Abort()
		f.requests.abort()
		return res
	}
	if undoable {
		res.Undo = inverse(tx.Changes())
	}
	tx.Commit()
	f.revoked.committed(f.db)
	f.requests.commit(e.index)
	return res
}

// decodeForApply decodes a committed entry; see Apply for why a failure
// panics.
func decodeForApply(index uint64, data []byte) decodedEntry {
	cmd, def, body, err := decodeEntry(data)
	if err != nil {
		panic(fmt.Sprintf("fsm: log entry %d: %v", index, err))
	}
	c := &applyCtx{index: index, cmd: cmd, now: commandTime(cmd)}
	return decodedEntry{index: index, ctx: c, def: def, body: body}
}

// commandTime is the time a command applies at: the proposer's clock, to the
// second, so that every replica computes the same dates.
func commandTime(cmd *kmsdpb.Command) time.Time {
	return time.Unix(0, cmd.GetTimeUnixNano()).UTC().Truncate(time.Second)
}
