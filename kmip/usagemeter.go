package kmip

import (
	"context"
	"errors"
	"sync"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Counting uses of keys with Usage Limits.
//
// KMIP 1.4 §4.29 (Encrypt; Sign and MAC say the same): "If the Managed
// Cryptographic Object referenced has a Usage Limits attribute then the
// server SHALL obtain an allocation from the current Usage Limits value
// prior to performing the encryption operation." The allocation is an
// AllocateUsage command through the log, so clients of every node draw on
// one count and the state machine refuses what would overdraw it.
//
// Requests for the same key do not each wait for a log entry of their
// own: while one allocation is in flight, the requests that arrive join
// the next one, which asks for their sum. If the sum no longer fits, the
// group's requests are allocated one by one, so that each gets the answer
// it would have had alone. Keys without Usage Limits never touch the log.
//
// The count is taken before the key is used, and never given back. A node
// that fails between the allocation and the answer has counted a use the
// client never saw: a crash can cost the keys in flight at that moment
// their allocation, at most one group per key, and never lets a key be
// used beyond its limit.

// usageClaim is one request's share of an allocation.
type usageClaim struct {
	amount int64
	done   chan error
}

// usageGroup gathers the claims on one key while an allocation is in
// flight.
type usageGroup struct {
	owner       string
	waiting     []*usageClaim
	outstanding int // claims not yet answered
}

// usageMeter batches allocations per key.
type usageMeter struct {
	s  *Service
	mu sync.Mutex
	// groups holds a key's group while its allocations run; the goroutine
	// that created it proposes until the group is empty, then deletes it.
	groups map[string]*usageGroup
}

func newUsageMeter(s *Service) *usageMeter {
	return &usageMeter{s: s, groups: map[string]*usageGroup{}}
}

// usageAmount is what one use of a key costs in its Usage Limits Unit
// (§3.21: Byte or Object).
func usageAmount(ul kmip.UsageLimits, dataLen int) int64 {
	if ul.UsageLimitsUnit == kmip.UsageLimitsUnitByte {
		return int64(max(dataLen, 1))
	}
	return 1
}

// claim obtains the allocation for one use of o, when o has Usage Limits.
func (m *usageMeter) claim(ctx context.Context, o *fsm.Object, dataLen int) error {
	v, limited := o.Attr(kmip.AttributeNameUsageLimits)
	ul, ok := v.(kmip.UsageLimits)
	if !limited || !ok {
		return nil
	}
	c := &usageClaim{amount: usageAmount(ul, dataLen), done: make(chan error, 1)}
	m.mu.Lock()
	g, running := m.groups[o.ID]
	if !running {
		g = &usageGroup{owner: o.Owner}
		m.groups[o.ID] = g
	}
	g.waiting = append(g.waiting, c)
	g.outstanding++
	m.mu.Unlock()
	if !running {
		go m.run(o.ID, g)
	}
	select {
	case err := <-c.done:
		if errors.Is(err, fsm.ErrUsageExhausted) || errors.Is(err, fsm.ErrWrongState) {
			return errorf(kmip.ResultReasonPermissionDenied, "the key's Usage Limits do not allow this use")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run proposes the group's allocations until no claim is waiting.
func (m *usageMeter) run(id string, g *usageGroup) {
	for {
		m.mu.Lock()
		batch := g.waiting
		g.waiting = nil
		if len(batch) == 0 {
			delete(m.groups, id)
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		m.allocate(id, g, batch)
		m.mu.Lock()
		g.outstanding -= len(batch)
		m.mu.Unlock()
	}
}

// allocate takes the batch's sum in one entry, or each claim alone when
// the sum does not fit.
func (m *usageMeter) allocate(id string, g *usageGroup, batch []*usageClaim) {
	var sum int64
	for _, c := range batch {
		sum += c.amount
	}
	err := m.propose(id, g, sum)
	if err == nil || len(batch) == 1 || !errors.Is(err, fsm.ErrUsageExhausted) {
		for _, c := range batch {
			c.done <- err
		}
		return
	}
	for _, c := range batch {
		c.done <- m.propose(id, g, c.amount)
	}
}

func (m *usageMeter) propose(id string, g *usageGroup, amount int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), freshTimeout)
	defer cancel()
	return m.s.proposeAs(ctx, g.owner, kmsdpb.CommandType_COMMAND_TYPE_ALLOCATE_USAGE, &kmsdpb.AllocateUsage{Id: id, Amount: amount})
}
