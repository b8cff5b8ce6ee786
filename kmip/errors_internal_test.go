package kmip

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
)

// TestFSMErrorsCoverSentinels walks every domain error of the state
// machine: each has exactly one row, in fsm's order, and maps as its row
// says even when wrapped.
func TestFSMErrorsCoverSentinels(t *testing.T) {
	sentinels := fsm.Sentinels()
	if len(fsmErrors) != len(sentinels) {
		t.Fatalf("fsmErrors has %d rows for %d sentinels", len(fsmErrors), len(sentinels))
	}
	for i, s := range sentinels {
		row := fsmErrors[i]
		t.Run(s.Error(), func(t *testing.T) {
			if row.err != s {
				t.Fatalf("row %d maps %v", i, row.err)
			}
			want, ok := row.client.(*Error)
			if !ok {
				t.Fatalf("row %d answers a %T, not an *Error", i, row.client)
			}
			got, internal := clientError(fmt.Errorf("apply: %w", s))
			if got != want || internal != row.internal {
				t.Fatalf("clientError = %+v internal=%v, want %+v internal=%v", got, internal, want, row.internal)
			}
			if row.internal && (got.Reason != kmip.ResultReasonGeneralFailure || got != errInternal.(*Error)) {
				t.Errorf("an internal error answers %+v", got)
			}
		})
	}
}

func TestNodeErrors(t *testing.T) {
	for _, row := range nodeErrors {
		t.Run(row.err.Error(), func(t *testing.T) {
			got, internal := clientError(fmt.Errorf("wait: %w", row.err))
			if got != row.client.(*Error) || internal != row.internal {
				t.Fatalf("clientError = %+v internal=%v", got, internal)
			}
		})
	}
	own := errorf(kmip.ResultReasonInvalidField, "field")
	if got, internal := clientError(fmt.Errorf("x: %w", own)); got != own.(*Error) || internal {
		t.Errorf("an *Error answered %+v internal=%v", got, internal)
	}
	if got, internal := clientError(errors.New("disk on fire")); got != errInternal.(*Error) || !internal {
		t.Errorf("an unknown error answered %+v internal=%v", got, internal)
	}
}
