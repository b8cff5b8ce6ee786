package kmip

import (
	"time"

	"context"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
)

// Proposer commits a command through the log and returns the state
// machine's answer once this node has applied it. A domain refusal (not
// found, wrong state) is the Result's Err; the error result is a failure
// to commit or to wait (no leader, timeout, shutdown).
type Proposer interface {
	Apply(ctx context.Context, cmd []byte) (*fsm.Result, error)
}

// Replicator is the cluster as the service sees it: commands go through
// the log, and reads wait for what the cluster acknowledged.
type Replicator interface {
	Proposer
	// ReadBarrier returns once this node has applied every write the
	// cluster acknowledged before the call.
	ReadBarrier(ctx context.Context) error
}

// Store answers reads from the local state machine.
type Store interface {
	Get(id string) (*fsm.Object, error)
	Locate(q fsm.Query) (ids []string, total int, err error)
	// Now returns local, or the time the store has applied commands up
	// to if that is later (fsm.FSM.Now), so that a request never
	// evaluates dates behind what the store already holds.
	Now(local time.Time) time.Time
}

// Sealer protects key material (*seal.Barrier): a ciphertext is bound to
// its object id, the object's owner and the cluster.
type Sealer interface {
	SealObject(b seal.Binding, plaintext []byte) ([]byte, error)
	OpenObject(b seal.Binding, sealed []byte) ([]byte, error)
}
