package cryptoalg

import (
	"errors"
	"fmt"
)

// Error classes. The server maps each to a KMIP Result Reason:
// ErrInvalidParameters to Invalid Field (or Cryptographic Failure),
// ErrUnsupported to Feature Not Supported (or Operation Not Supported),
// ErrInvalidKey to Invalid Field / Incompatible Cryptographic Usage Mask,
// ErrInvalidData and ErrAuthentication to Cryptographic Failure (for
// Signature Verify and MAC Verify, ErrAuthentication is the Validity
// Indicator "Invalid", not an error), ErrLimit to Cryptographic Failure or
// Response Too Large, ErrFinished to Invalid Message.
var (
	ErrInvalidParameters = errors.New("cryptoalg: invalid cryptographic parameters")
	ErrUnsupported       = errors.New("cryptoalg: not supported")
	ErrInvalidKey        = errors.New("cryptoalg: key unusable for this operation")
	ErrInvalidData       = errors.New("cryptoalg: invalid data")
	ErrAuthentication    = errors.New("cryptoalg: authentication failed")
	ErrLimit             = errors.New("cryptoalg: limit exceeded")
	ErrFinished          = errors.New("cryptoalg: stream finished")
)

// Error is the error every function of the package returns. Kind is one of
// the sentinels above; Reason is client-safe text in KMIP terms.
type Error struct {
	Kind   error
	Reason string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns Kind, so errors.Is(err, ErrUnsupported) works.
func (e *Error) Unwrap() error { return e.Kind }

// Reason returns the client-safe sentence of err if it is (or wraps) an
// *Error, and "" otherwise.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func fail(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return fail(ErrInvalidParameters, format, args...)
}

func unsupported(format string, args ...any) error {
	return fail(ErrUnsupported, format, args...)
}
