package kmip

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestRateLimitsForgetIdleIdentities: the limiters of identities whose
// bucket has refilled are dropped, so many identities seen once do not
// grow the table without bound.
func TestRateLimitsForgetIdleIdentities(t *testing.T) {
	r := newRateLimits(10, 10)
	t0 := time.Unix(1_900_000_000, 0)
	for i := range 3 * maxIdleLimiters {
		// One identity a millisecond: a bucket refills in a second.
		if !r.allow("client-"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Millisecond), 1) {
			t.Fatalf("identity %d refused its first request", i)
		}
	}
	if n := len(r.byID); n > maxIdleLimiters {
		t.Errorf("%d limiters kept, want at most %d", n, maxIdleLimiters)
	}
	if !newRateLimits(0, 5).allow("anyone", t0, 1000) {
		t.Error("no rate limit refused a request")
	}
}

// An item skipped at shutdown does not claim its deadline passed.
func TestNotExecuted(t *testing.T) {
	if notExecuted(context.DeadlineExceeded) != errDeadlinePassed || notExecuted(context.Canceled) != errUnavailable {
		t.Error("skipped items answer the wrong reason")
	}
}
