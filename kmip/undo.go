package kmip

import (
	"context"
	"slices"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// undoJournal collects the inverses of the commands a batch with Batch Error
// Continuation Option Undo has committed so far (KMIP 1.4 §6.16).
type undoJournal struct {
	steps []*kmsdpb.UndoStep
}

func (j *undoJournal) record(u *kmsdpb.Undo) {
	if u != nil {
		j.steps = append(j.steps, u.GetSteps()...)
	}
}

// undoBatch reverts what the items before a failed one did, newest first, in
// one command: either everything is undone and those items answer Operation
// Undone, or, when an object changed meanwhile, nothing is and they keep
// their results.
func (s *Service) undoBatch(ctx context.Context, rc *reqCtx, done []kmip.ResponseBatchItem) {
	journal := rc.journal
	rc.journal = nil // the undo itself is not journaled
	if len(journal.steps) > 0 {
		steps := slices.Clone(journal.steps)
		slices.Reverse(steps)
		if _, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_UNDO, &kmsdpb.Undo{Steps: steps}); err != nil {
			s.logger.Warn("batch could not be undone", "client", rc.identity, "err", err)
			return
		}
	}
	for i := range done {
		done[i].ResultStatus = kmip.ResultStatusOperationUndone
		done[i].ResponsePayload = nil
	}
}

// undoGrace bounds an undo that follows a batch whose deadline has passed.
const undoGrace = 5 * time.Second

// undoContext is ctx, or, once ctx has ended, a short context of its own:
// a batch that ran out of time still owes the client its undo.
func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), undoGrace)
}
