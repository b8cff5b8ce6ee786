package kmiperr

import (
	"fmt"

	"github.com/ovh/kmip-go"
)

// Error is a failure meant for the client: a KMIP Result Reason and a short
// message that never carries internal details.
type Error struct {
	Reason  kmip.ResultReason
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given reason and formatted message. The
// arguments must never be key material or internal error text: the message
// is sent to the client.
func Errorf(reason kmip.ResultReason, format string, args ...any) error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
