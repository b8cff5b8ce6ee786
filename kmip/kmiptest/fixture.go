package kmiptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kmipgo "github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Epoch is the fixed time the fixture clock starts at.
var Epoch = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// Clock is a settable clock for Config.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Replicator applies each command to the state machine directly, as a
// single-node log would, with consecutive indexes.
type Replicator struct {
	FSM *fsm.FSM

	mu    sync.Mutex
	index uint64
	// base is the index of the last entry applied before the service ran.
	base uint64
	// Err, when set, is returned by Apply instead of applying.
	Err error
	// hook, when set, runs at the start of every Apply, outside the
	// replicator's lock.
	hook func(cmd []byte)

	// lagging makes this node a follower that is behind: commands are
	// applied to a separate leader store at once and to FSM only at the
	// next ReadBarrier.
	leader   *fsm.FSM
	queue    [][]byte
	barriers int
}

// SetHook makes every Apply call fn first, outside the replicator's lock; a
// test may block in it to hold a proposal back.
func (r *Replicator) SetHook(fn func(cmd []byte)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = fn
}

// SetErr makes Apply return err instead of applying (nil: apply again).
func (r *Replicator) SetErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Err = err
}

// Lag makes the local store fall behind from now on, as a follower's can.
func (r *Replicator) Lag() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leader = fsm.New(fsm.Config{})
	var buf bytes.Buffer
	if err := r.FSM.Snapshot().Persist(&buf); err != nil {
		panic(err)
	}
	if err := r.leader.Restore(&buf); err != nil {
		panic(err)
	}
}

// Apply implements kmip.Replicator.
func (r *Replicator) Apply(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		hook(cmd)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return nil, r.Err
	}
	r.index++
	if r.leader != nil {
		r.queue = append(r.queue, cmd)
		return r.leader.Apply(r.index, cmd), nil
	}
	return r.FSM.Apply(r.index, cmd), nil
}

// ReadBarrier implements kmip.Replicator: a lagging store catches up.
func (r *Replicator) ReadBarrier(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.barriers++
	first := r.index - uint64(len(r.queue)) + 1
	for i, cmd := range r.queue {
		r.FSM.Apply(first+uint64(i), cmd)
	}
	r.queue = nil
	return ctx.Err()
}

// Barriers returns how many read barriers were requested.
func (r *Replicator) Barriers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.barriers
}

// Applied returns the number of commands applied so far.
func (r *Replicator) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.index - r.base
}

// Fixture is a Service over a real state machine and keyring.
type Fixture struct {
	FSM        *fsm.FSM
	Replicator *Replicator
	Barrier    *seal.Barrier
	Clock      *Clock
	Logs       *Logs
	Service    *kmip.Service
}

// New returns a fixture whose clock starts at Epoch.
func New(t testing.TB) *Fixture {
	return NewWith(t, func(*kmip.Config) {})
}

// NewWith is New with a chance to change the service configuration.
func NewWith(t testing.TB, configure func(*kmip.Config)) *Fixture {
	t.Helper()
	logs := NewLogs(t)
	f := fsm.New(fsm.Config{Logger: logs.Logger()})
	barrier := NewBarrier(t, f)
	clock := &Clock{now: Epoch}
	// The keyring's first entry is not one of the commands the service
	// applied.
	rep := &Replicator{FSM: f, index: 1, base: 1}
	cfg := kmip.Config{
		Replicator: rep,
		Store:      f,
		Sealer:     barrier,
		Logger:     logs.Logger(),
		Now:        clock.Now,
		ServerInfo: "kmsd test",
		Policy:     f,
	}
	configure(&cfg)
	svc := kmip.NewService(cfg)
	return &Fixture{FSM: f, Replicator: rep, Barrier: barrier, Clock: clock, Logs: logs, Service: svc}
}

// SetPolicy adds or replaces access policy entries, as an operator does.
func (f *Fixture) SetPolicy(t testing.TB, entries ...*kmsdpb.PolicyEntry) {
	t.Helper()
	reqID := make([]byte, 16)
	_, _ = rand.Read(reqID)
	entry, err := f.FSM.EncodeSetPolicy(&kmsdpb.Command{RequestId: reqID, TimeUnixNano: f.Clock.Now().UnixNano(), Actor: "operator"}, entries)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Replicator.Apply(context.Background(), entry)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err; err != nil {
		t.Fatalf("policy refused: %v", err)
	}
}

// NewBarrier returns an unsealed barrier over f with a file seal in a
// temporary folder, and applies keyring version 1 to f at index 1.
func NewBarrier(t testing.TB, f *fsm.FSM) *seal.Barrier {
	t.Helper()
	b := seal.NewBarrier(f)
	if _, err := b.Init(t.TempDir(), seal.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	sealed, err := b.NewDataKey(1)
	if err != nil {
		t.Fatal(err)
	}
	reqID := make([]byte, 16)
	_, _ = rand.Read(reqID)
	entry, err := f.EncodeAddDataKey(&kmsdpb.Command{RequestId: reqID, TimeUnixNano: Epoch.UnixNano(), Actor: "test"}, b.ClusterID(), 1, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(1, entry); res.Err != nil {
		t.Fatal(res.Err)
	}
	return b
}

// Leaks lists words that only internal error text would contain; none may
// reach a client.
var Leaks = []string{"panic", "decoder", "encoding error", "fsm:", "cluster:", "kmip:", "wire:", "goroutine", ".go:"}

// CheckNoLeak reports an error for every Result Message that quotes internal
// error text.
func CheckNoLeak(t testing.TB, resp *kmipgo.ResponseMessage) {
	t.Helper()
	for i, bi := range resp.BatchItem {
		msg := strings.ToLower(bi.ResultMessage)
		for _, w := range Leaks {
			if strings.Contains(msg, w) {
				t.Errorf("batch item %d: result message %q leaks internal text %q", i, bi.ResultMessage, w)
			}
		}
	}
}

// Execute encodes req as a client would, decodes it as the server does, runs
// it as identity and decodes the response. It returns the decoded response
// and its bytes.
func (f *Fixture) Execute(t testing.TB, identity string, req kmipgo.RequestMessage) (*kmipgo.ResponseMessage, []byte) {
	t.Helper()
	wireReq := &kmipgo.RequestMessage{}
	if err := decode(ttlv.MarshalTTLV(&req), wireReq); err != nil {
		t.Fatalf("request does not survive encoding: %v", err)
	}
	return f.ExecuteDirect(t, identity, wireReq)
}

// ExecuteDirect runs req as given, without the encoding round trip, so a
// test can hand the service values the encoder would drop.
func (f *Fixture) ExecuteDirect(t testing.TB, identity string, req *kmipgo.RequestMessage) (*kmipgo.ResponseMessage, []byte) {
	t.Helper()
	b := f.Service.Execute(context.Background(), identity, req)
	resp := DecodeResponse(t, b)
	CheckNoLeak(t, resp)
	return resp, b
}

// DecodeResponse decodes a response message or fails the test.
func DecodeResponse(t testing.TB, b []byte) *kmipgo.ResponseMessage {
	t.Helper()
	resp := &kmipgo.ResponseMessage{}
	if err := decode(b, resp); err != nil {
		t.Fatalf("cannot decode response: %v\n%s", err, Dump(b))
	}
	return resp
}

// decode runs the TTLV decoder behind a recover: it panics on some inputs.
func decode(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return ttlv.UnmarshalTTLV(b, v)
}

// Dump renders TTLV bytes as text for failure messages.
func Dump(b []byte) string {
	var v ttlv.Value
	if err := decode(b, &v); err != nil {
		return fmt.Sprintf("undecodable TTLV (%v): % x", err, b)
	}
	return string(ttlv.MarshalText(&v))
}
