package kmip

import (
	"context"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/ovh/kmip-go"
	"golang.org/x/time/rate"
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

// maxIdleLimiters is how many identities' rate limiters are kept before
// those with a full bucket are forgotten.
const maxIdleLimiters = 4096

// rateLimits is a token bucket per client identity: each batch item takes
// a token (a batch takes at most the bucket's size, so that it can run
// once the bucket is full).
type rateLimits struct {
	limit rate.Limit
	burst int

	mu   sync.Mutex
	byID map[string]*rate.Limiter
}

// newRateLimits returns nil, no limit, for perSecond <= 0. A burst of 0
// means twice the rate.
func newRateLimits(perSecond float64, burst int) *rateLimits {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(2*perSecond)))
	}
	return &rateLimits{limit: rate.Limit(perSecond), burst: burst, byID: map[string]*rate.Limiter{}}
}

// allow takes items tokens from identity's bucket at now, or reports that
// it holds too few.
func (r *rateLimits) allow(identity string, now time.Time, items int) bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	l, ok := r.byID[identity]
	if !ok {
		if len(r.byID) >= maxIdleLimiters {
			r.prune(now)
		}
		l = rate.NewLimiter(r.limit, r.burst)
		r.byID[identity] = l
	}
	r.mu.Unlock()
	return l.AllowN(now, min(items, r.burst))
}

// prune forgets the limiters whose bucket is full again: a new one would
// answer the same.
func (r *rateLimits) prune(now time.Time) {
	for id, l := range r.byID {
		if l.TokensAt(now) >= float64(r.burst) {
			delete(r.byID, id)
		}
	}
}
