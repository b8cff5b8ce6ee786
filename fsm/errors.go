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
