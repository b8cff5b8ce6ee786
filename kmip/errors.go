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

// clientErr is one row of an error table: what the client sees for an
// error, and whether the error is internal (logged, never sent).
type clientErr struct {
	err      error
	client   error // an *Error
	internal bool
}

// fsmErrors maps every domain error of the state machine (fsm.Sentinels,
// in that order) to the client's answer. A test walks fsm.Sentinels, so a
// new sentinel without a row here fails it. The errors that are the
// cluster's or the node's own business (join tokens, the keyring, the
// certificate authority, snapshots) never answer a KMIP request in
// practice; should one, it is an internal error.
var fsmErrors = []clientErr{
	{fsm.ErrNotFound, errNotFound, false},
	{fsm.ErrExists, errorf(kmip.ResultReasonInvalidField, "object already exists"), false},
	{fsm.ErrWrongState, errWrongState, false},
	{fsm.ErrMalformed, errInternal, true},
	{fsm.ErrInvalidValue, errInternal, true},
	{fsm.ErrDuplicateCall, errInternal, true},
	{fsm.ErrNoAttribute, errorf(kmip.ResultReasonItemNotFound, "the object has no such attribute"), false},
	{fsm.ErrIndexRange, errorf(kmip.ResultReasonIndexOutofBounds, "attribute index out of bounds"), false},
	{fsm.ErrSingleValued, errorf(kmip.ResultReasonIllegalOperation, "the attribute allows a single instance and already has one"), false},
	{fsm.ErrNotModifiable, errorf(kmip.ResultReasonPermissionDenied, "the attribute cannot be changed in the object's current state"), false},
	{fsm.ErrBadSnapshot, errInternal, true},
	{fsm.ErrConflict, errInternal, true},
	{fsm.ErrArchived, errArchived, false},
	{fsm.ErrNotApplicable, errorf(kmip.ResultReasonIllegalOperation, "operation not applicable to the object"), false},
	{fsm.ErrUsageExhausted, errUsageExhausted, false},
	{fsm.ErrTokenUnknown, errInternal, true},
	{fsm.ErrTokenExpired, errInternal, true},
	{fsm.ErrTooManyTokens, errInternal, true},
	{fsm.ErrOtherCluster, errInternal, true},
	{fsm.ErrKeyInUse, errInternal, true},
	// Sealed just before a data key was retired: a retry seals under the
	// newest key.
	{fsm.ErrRetiredKey, errUnavailable, false},
	{fsm.ErrPolicyRefused, errInternal, true},
	{fsm.ErrNoPolicyEntry, errInternal, true},
	{fsm.ErrNoAuthority, errInternal, true},
	{fsm.ErrTooManyCertificates, errInternal, true},
	{fsm.ErrTooManyRevoked, errInternal, true},
	{fsm.ErrObjectQuota, errObjectQuota, false},
	{fsm.ErrByteQuota, errByteQuota, false},
	{fsm.ErrTooManyAttrs, errTooManyAttrs, false},
	{fsm.ErrAttrTooLarge, errAttrTooLarge, false},
}

// nodeErrors maps what the cluster and the request's context return.
var nodeErrors = []clientErr{
	{cluster.ErrTooLarge, errTooLarge, false},
	{context.DeadlineExceeded, errDeadline, false},
	// Canceled: the server is shutting down.
	{context.Canceled, errUnavailable, false},
	{cluster.ErrNotLeader, errUnavailable, true},
	{cluster.ErrTimeout, errUnavailable, true},
	{cluster.ErrShutdown, errUnavailable, true},
}

// clientError maps any error to what the client may see. The second result
// reports whether the original error is internal and should be logged.
// An *Error answers as it is; otherwise the first row of fsmErrors, then
// of nodeErrors, that the error matches; otherwise it is internal.
func clientError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, false
	}
	for _, table := range [][]clientErr{fsmErrors, nodeErrors} {
		for _, row := range table {
			if errors.Is(err, row.err) {
				return row.client.(*Error), row.internal
			}
		}
	}
	return errInternal.(*Error), true
}
