package kmip

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovh/kmip-go"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Clearing Fresh.
//
// KMIP 1.4 §3.34: the server SHALL set Fresh to False "as soon as the object
// has been served to a client". A Get does not wait for that write: the
// object's id joins a queue, and one proposal per owner clears Fresh on every
// object queued while the previous proposal was in flight. So a Get costs no
// Raft round trip of its own, and many first Gets share one log entry.
//
// The write follows the answer, so for a few milliseconds a Get Attributes
// may still show Fresh as True, and if the node fails before the proposal
// commits the object stays Fresh: the flag then says "perhaps not served",
// never "served" for an object that was not. Fresh matters beyond
// information in one place, the Object Group Member Fresh form of Locate,
// which hands out each fresh member of a group once; an object in an
// object group is therefore cleared before its Get answers, as before.

const (
	// freshQueue bounds the ids waiting to be cleared; when it is full a
	// Get clears Fresh itself, before answering.
	freshQueue = 4096
	// freshBatch bounds the ids cleared by one proposal.
	freshBatch = 512
	// freshTimeout bounds one proposal.
	freshTimeout = 30 * time.Second
)

// freshMark is one object waiting to be marked as served.
type freshMark struct {
	id, owner string
}

// freshMarker clears Fresh in the background. Its goroutine starts with the
// first mark and runs until close.
type freshMarker struct {
	s       *Service
	queue   chan freshMark
	closing chan struct{}
	done    chan struct{} // closed when run returns

	mu      sync.Mutex
	started bool
	closed  bool
	pending map[string]bool // ids queued or being proposed

	queued, flushed atomic.Uint64 // marks accepted and marks proposed
}

func newFreshMarker(s *Service) *freshMarker {
	return &freshMarker{s: s, queue: make(chan freshMark, freshQueue), closing: make(chan struct{}), done: make(chan struct{}), pending: map[string]bool{}}
}

// enqueue queues an object, unless it is queued already; it reports false
// when the queue is full or closing, and the caller must clear Fresh itself.
func (m *freshMarker) enqueue(id, owner string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	if m.pending[id] {
		return true
	}
	if !m.started {
		m.started = true
		go m.run()
	}
	select {
	case m.queue <- freshMark{id: id, owner: owner}:
		m.pending[id] = true
		m.queued.Add(1)
		return true
	default:
		return false
	}
}

// run proposes what is queued, grouped by owner, until close; then it
// drains the queue.
func (m *freshMarker) run() {
	defer close(m.done)
	for {
		var first freshMark
		select {
		case first = <-m.queue:
		case <-m.closing:
			m.drain()
			return
		}
		m.flush(m.take(first))
	}
}

// take gathers first and whatever else is queued, up to freshBatch ids.
func (m *freshMarker) take(first freshMark) []freshMark {
	batch := []freshMark{first}
	for len(batch) < freshBatch {
		select {
		case mk := <-m.queue:
			batch = append(batch, mk)
		default:
			return batch
		}
	}
	return batch
}

func (m *freshMarker) drain() {
	for {
		select {
		case mk := <-m.queue:
			m.flush(m.take(mk))
		default:
			return
		}
	}
}

// flush proposes one MarkNotFresh per owner. A failure is logged: the
// objects stay Fresh, which is what a node failure would leave too.
func (m *freshMarker) flush(batch []freshMark) {
	byOwner := map[string][]string{}
	var owners []string
	for _, mk := range batch {
		if _, seen := byOwner[mk.owner]; !seen {
			owners = append(owners, mk.owner)
		}
		byOwner[mk.owner] = append(byOwner[mk.owner], mk.id)
	}
	for _, owner := range owners {
		ids := byOwner[owner]
		ctx, cancel := context.WithTimeout(context.Background(), freshTimeout)
		err := m.s.proposeAs(ctx, owner, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, &kmsdpb.MarkNotFresh{Ids: ids})
		cancel()
		if err != nil {
			m.s.logger.Warn("could not record that objects were served; they stay Fresh", "objects", len(ids), "error", err)
		}
	}
	m.mu.Lock()
	for _, mk := range batch {
		delete(m.pending, mk.id)
	}
	m.mu.Unlock()
	m.flushed.Add(uint64(len(batch)))
}

// wait returns once every mark accepted before the call has been proposed,
// or when ctx ends.
func (m *freshMarker) wait(ctx context.Context) error {
	target := m.queued.Load()
	for m.flushed.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// close stops the marker after proposing what is queued, or when ctx ends.
func (m *freshMarker) close(ctx context.Context) {
	m.mu.Lock()
	started, closed := m.started, m.closed
	m.closed = true
	m.mu.Unlock()
	if closed || !started {
		return
	}
	close(m.closing)
	select {
	case <-m.done:
	case <-ctx.Done():
	}
}

// proposeAs commits a command for owner's objects, outside any client
// request.
func (s *Service) proposeAs(ctx context.Context, owner string, t kmsdpb.CommandType, body proto.Message) error {
	reqID := make([]byte, 16)
	if _, err := rand.Read(reqID); err != nil {
		return err
	}
	env := &kmsdpb.Command{RequestId: reqID, TimeUnixNano: s.cfg.Now().UnixNano(), Actor: owner}
	data, err := fsm.Encode(t, env, body)
	if err != nil {
		return err
	}
	res, err := s.cfg.Replicator.Apply(ctx, data)
	if err != nil {
		return err
	}
	return res.Err
}

// markServed records that the object's key material was handed to the
// client (see "Clearing Fresh" above). Only the first serving writes to
// the log. Get calls it once the object is ready to be returned.
func (s *Service) markServed(ctx context.Context, rc *reqCtx, o *fsm.Object) error {
	if v, _ := o.Attr(kmip.AttributeNameFresh); v != true {
		return nil
	}
	if _, grouped := o.Attr(kmip.AttributeNameObjectGroup); !grouped && s.fresh.enqueue(o.ID, o.Owner) {
		return nil
	}
	_, err := s.propose(ctx, rc, kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH, &kmsdpb.MarkNotFresh{Id: o.ID})
	return err
}
