package kmip

import (
	"fmt"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
)

// TestQuotaAndLimitErrors: the state machine's quota and per-object limit
// refusals reach the client as fixed texts naming the limit, never as the
// state machine's own text.
func TestQuotaAndLimitErrors(t *testing.T) {
	for _, c := range []struct {
		err     error
		reason  kmip.ResultReason
		message string
	}{
		{fsm.ErrObjectQuota, kmip.ResultReasonPermissionDenied, "tenant object quota exceeded"},
		{fsm.ErrByteQuota, kmip.ResultReasonPermissionDenied, "tenant byte quota exceeded"},
		{fsm.ErrTooManyAttrs, kmip.ResultReasonPermissionDenied, "the object holds the most attributes allowed (1024)"},
		{fsm.ErrAttrTooLarge, kmip.ResultReasonInvalidField, "an attribute is larger than 65536 bytes"},
	} {
		got, internal := clientError(fmt.Errorf("apply: %w", c.err))
		if internal || got.Reason != c.reason || got.Message != c.message {
			t.Errorf("%v: %v %q (internal %v), want %v %q", c.err, got.Reason, got.Message, internal, c.reason, c.message)
		}
	}
}
