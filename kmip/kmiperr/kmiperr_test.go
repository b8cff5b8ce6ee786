package kmiperr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/kmiperr"
)

func TestErrorf(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", kmiperr.Errorf(kmip.ResultReasonInvalidField, "field %q of %d", "x", 3))
	var e *kmiperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As found no *Error in %v", err)
	}
	if e.Reason != kmip.ResultReasonInvalidField || e.Message != `field "x" of 3` || e.Error() != e.Message {
		t.Fatalf("got %+v", e)
	}
}
