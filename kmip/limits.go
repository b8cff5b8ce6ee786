package kmip

import (
	"context"
	"runtime"

	"github.com/ovh/kmip-go"
)

// keyPairOperations generate key pairs: an RSA-4096 pair takes seconds of
// CPU. At most Config.MaxKeyPairGenerations of them run at once, on all
// connections together; the others wait within their request's deadline.
var keyPairOperations = map[kmip.Operation]bool{
	kmip.OperationCreateKeyPair: true,
	kmip.OperationReKeyKeyPair:  true,
}

// DefaultMaxKeyPairGenerations is Config.MaxKeyPairGenerations unless set:
// half the CPUs, so that key pairs never take the whole machine.
func DefaultMaxKeyPairGenerations() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// semaphore bounds concurrent work.
type semaphore chan struct{}

// acquire takes a slot, or fails once ctx ends.
func (s semaphore) acquire(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errDeadline
	}
}

func (s semaphore) release() { <-s }
