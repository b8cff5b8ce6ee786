package kmip

import (
	"context"

	"github.com/kmsd/kmsd/fsm"
)

// Replicator commits a command through the log and returns the state
// machine's answer (an *fsm.Result) once this node has applied it.
type Replicator interface {
	Apply(ctx context.Context, cmd []byte) (any, error)
	// ReadBarrier returns once this node has applied every write the
	// cluster acknowledged before the call.
	ReadBarrier(ctx context.Context) error
}

// Store answers reads from the local state machine.
type Store interface {
	Get(id string) (*fsm.Object, error)
	Locate(q fsm.Query) (ids []string, total int, err error)
}

// Sealer protects key material: ciphertexts are bound to an object id.
type Sealer interface {
	Seal(id string, plaintext []byte) ([]byte, error)
	Open(id string, sealed []byte) ([]byte, error)
}
