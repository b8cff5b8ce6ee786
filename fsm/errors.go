package fsm

import "errors"

// Domain errors returned by Apply (inside Result) and by queries.
var (
	ErrNotFound      = errors.New("fsm: object not found")
	ErrExists        = errors.New("fsm: object already exists")
	ErrWrongState    = errors.New("fsm: operation not allowed in the object's state")
	ErrMalformed     = errors.New("fsm: malformed command")
	ErrInvalidValue  = errors.New("fsm: invalid attribute value")
	ErrDuplicateCall = errors.New("fsm: request already applied")

	ErrTokenUnknown  = errors.New("fsm: join token unknown or already used")
	ErrTokenExpired  = errors.New("fsm: join token expired")
	ErrTooManyTokens = errors.New("fsm: too many live join tokens")
	ErrOtherCluster  = errors.New("fsm: the data key belongs to another cluster")
	ErrKeyInUse      = errors.New("fsm: the data key version is the newest or still seals objects")
	ErrRetiredKey    = errors.New("fsm: the material is sealed under a data key version the keyring no longer holds")

	ErrNoAuthority         = errors.New("fsm: the cluster has no certificate authority")
	ErrTooManyCertificates = errors.New("fsm: too many issued certificates")
	ErrTooManyRevoked      = errors.New("fsm: the certificate deny list is full")
)

// errorCodes is the one table of the domain errors a Result may carry and
// the code each travels under (ApplyResult.Error), so that a result can
// cross the network from the leader to the node that forwarded the
// command. Codes are part of the replicated wire format: never reuse or
// rename one. Every exported Err* variable of this package has a row
// (errors_test.go parses the package to check); the front ends map the
// same list (Sentinels) to what their clients see. A family that is
// matched through its members (ErrQuotaExceeded, see quota.go) has none.
var errorCodes = []struct {
	code string
	err  error
}{
	{"not_found", ErrNotFound},
	{"exists", ErrExists},
	{"wrong_state", ErrWrongState},
	{"malformed", ErrMalformed},
	{"invalid_value", ErrInvalidValue},
	{"duplicate", ErrDuplicateCall},
	{"no_attribute", ErrNoAttribute},
	{"index_range", ErrIndexRange},
	{"single_valued", ErrSingleValued},
	{"not_modifiable", ErrNotModifiable},
	{"bad_snapshot", ErrBadSnapshot},
	{"conflict", ErrConflict},
	{"archived", ErrArchived},
	{"not_applicable", ErrNotApplicable},
	{"usage_exhausted", ErrUsageExhausted},
	{"token_unknown", ErrTokenUnknown},
	{"token_expired", ErrTokenExpired},
	{"too_many_tokens", ErrTooManyTokens},
	{"other_cluster", ErrOtherCluster},
	{"key_in_use", ErrKeyInUse},
	{"retired_key", ErrRetiredKey},
	{"policy_refused", ErrPolicyRefused},
	{"no_policy_entry", ErrNoPolicyEntry},
	{"no_authority", ErrNoAuthority},
	{"too_many_certs", ErrTooManyCertificates},
	{"too_many_revoked", ErrTooManyRevoked},
	{"object_quota", ErrObjectQuota},
	{"byte_quota", ErrByteQuota},
	{"too_many_attrs", ErrTooManyAttrs},
	{"attr_too_large", ErrAttrTooLarge},
}

// unknownFailureCode carries an error that is none of the table's; it
// decodes to errUnknownFailure.
const unknownFailureCode = "unknown_failure"

var errUnknownFailure = errors.New("fsm: command failed")

// errorsByCode indexes errorCodes for decoding.
var errorsByCode = func() map[string]error {
	m := make(map[string]error, len(errorCodes))
	for _, e := range errorCodes {
		if _, dup := m[e.code]; dup || e.code == unknownFailureCode {
			panic("fsm: error code " + e.code + " listed twice")
		}
		m[e.code] = e.err
	}
	return m
}()

// errorCode returns the wire code of err: the first row it matches.
func errorCode(err error) string {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return unknownFailureCode
}

// errorOfCode is the inverse of errorCode; an unknown code (from a newer
// node) is a failure without detail.
func errorOfCode(code string) error {
	if err, ok := errorsByCode[code]; ok {
		return err
	}
	return errUnknownFailure
}

// Sentinels returns every domain error a Result may carry, in table order.
// A front end maps each to its own answer and tests that none is missing.
func Sentinels() []error {
	out := make([]error, len(errorCodes))
	for i, e := range errorCodes {
		out[i] = e.err
	}
	return out
}
