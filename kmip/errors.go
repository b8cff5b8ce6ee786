package kmip

import (
	"context"
	"errors"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/kmiperr"
)

// Error is a failure meant for the client: a KMIP Result Reason and a short
// message that never carries internal details. The sub-packages return the
// same type (kmip/kmiperr).
type Error = kmiperr.Error

func errorf(reason kmip.ResultReason, format string, args ...any) error {
	return kmiperr.Errorf(reason, format, args...)
}

// ErrSealed is what Config.Available returns while the node is sealed.
var ErrSealed = errors.New("kmip: the node is sealed")

// Common client errors.
var (
	errNotFound     = errorf(kmip.ResultReasonItemNotFound, "object not found")
	errNotSupported = errorf(kmip.ResultReasonOperationNotSupported, "operation not supported")
	// errSealed answers every request of a sealed node: KMIP 1.x has no
	// reason for an unavailable server, so General Failure with a fixed
	// text that a client's operator can act on.
	errSealed = errorf(kmip.ResultReasonGeneralFailure, "server unavailable: this key server is sealed or has not joined its cluster yet; try another node")
	// OASIS TC-152 records Item Not Found for a Get without an identifier
	// after a Locate that found nothing.
	errNoPlaceholder   = errorf(kmip.ResultReasonItemNotFound, "no unique identifier given and no ID placeholder set")
	errInvalidMessage  = errorf(kmip.ResultReasonInvalidMessage, "invalid message")
	errUnavailable     = errorf(kmip.ResultReasonGeneralFailure, "service temporarily unavailable, retry")
	errInternal        = errorf(kmip.ResultReasonGeneralFailure, "internal error")
	errWrongState      = errorf(kmip.ResultReasonPermissionDenied, "operation not allowed in the object's current state")
	errTooLarge        = errorf(kmip.ResultReasonInvalidMessage, "request too large")
	errFormatUnsupport = keyformat.ErrFormatUnsupported
	// KMIP 1.x has no reason for a timeout: General Failure, with a text
	// that says whether the item ran.
	errDeadline       = errorf(kmip.ResultReasonGeneralFailure, "request deadline exceeded")
	errDeadlinePassed = errorf(kmip.ResultReasonGeneralFailure, "not executed: the request deadline passed")
	errRateLimited    = errorf(kmip.ResultReasonGeneralFailure, "not executed: this client's request rate is over the server's limit; retry later")
	// A quota is a policy refusal, which a retry does not cure: Permission
	// Denied, not General Failure, which this server answers for
	// conditions that pass (unavailable, deadline, rate limit).
	errObjectQuota  = errorf(kmip.ResultReasonPermissionDenied, "tenant object quota exceeded")
	errByteQuota    = errorf(kmip.ResultReasonPermissionDenied, "tenant byte quota exceeded")
	errTooManyAttrs = errorf(kmip.ResultReasonPermissionDenied, "the object holds the most attributes allowed (%d)", fsm.MaxObjectAttrs)
	errAttrTooLarge = errorf(kmip.ResultReasonInvalidField, "an attribute is larger than %d bytes", fsm.MaxAttrBytes)
)

// clientError maps any error to what the client may see. The second result
// reports whether the original error is internal and should be logged.
func clientError(err error) (*Error, bool) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e, false
	case errors.Is(err, fsm.ErrNotFound):
		return errNotFound.(*Error), false
	case errors.Is(err, fsm.ErrWrongState):
		return errWrongState.(*Error), false
	case errors.Is(err, fsm.ErrExists):
		return &Error{Reason: kmip.ResultReasonInvalidField, Message: "object already exists"}, false
	case errors.Is(err, fsm.ErrArchived):
		return errArchived.(*Error), false
	case errors.Is(err, fsm.ErrNotApplicable):
		return &Error{Reason: kmip.ResultReasonIllegalOperation, Message: "operation not applicable to the object"}, false
	case errors.Is(err, fsm.ErrUsageExhausted):
		return errUsageExhausted.(*Error), false
	case errors.Is(err, fsm.ErrNoAttribute):
		return &Error{Reason: kmip.ResultReasonItemNotFound, Message: "the object has no such attribute"}, false
	case errors.Is(err, fsm.ErrIndexRange):
		return &Error{Reason: kmip.ResultReasonIndexOutofBounds, Message: "attribute index out of bounds"}, false
	case errors.Is(err, fsm.ErrSingleValued):
		return &Error{Reason: kmip.ResultReasonIllegalOperation, Message: "the attribute allows a single instance and already has one"}, false
	case errors.Is(err, fsm.ErrNotModifiable):
		return &Error{Reason: kmip.ResultReasonPermissionDenied, Message: "the attribute cannot be changed in the object's current state"}, false
	case errors.Is(err, fsm.ErrObjectQuota):
		return errObjectQuota.(*Error), false
	case errors.Is(err, fsm.ErrByteQuota):
		return errByteQuota.(*Error), false
	case errors.Is(err, fsm.ErrTooManyAttrs):
		return errTooManyAttrs.(*Error), false
	case errors.Is(err, fsm.ErrAttrTooLarge):
		return errAttrTooLarge.(*Error), false
	case errors.Is(err, fsm.ErrRetiredKey):
		// Sealed just before a data key was retired: a retry seals under
		// the newest key.
		return errUnavailable.(*Error), false
	case errors.Is(err, cluster.ErrTooLarge):
		return errTooLarge.(*Error), false
	case errors.Is(err, context.DeadlineExceeded):
		return errDeadline.(*Error), false
	case errors.Is(err, context.Canceled):
		// The server is shutting down.
		return errUnavailable.(*Error), false
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrTimeout), errors.Is(err, cluster.ErrShutdown):
		return errUnavailable.(*Error), true
	default:
		return errInternal.(*Error), true
	}
}
