package fsm

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// EnvelopeVersion is the Command.version this build writes and accepts.
const EnvelopeVersion = 1

// Result is what Apply returns for one command.
type Result struct {
	Index uint64   // log index of the command
	IDs   []string // objects the command touched
	Err   error    // a domain error (ErrNotFound, ErrWrongState, ...) or nil
	// Undo reverts the command; set when the command asked for it.
	Undo *kmsdpb.Undo
}

// Config configures an FSM. Zero values are fine.
type Config struct {
	Logger *slog.Logger
}

// FSM is the object store and the commands that change it.
type FSM struct {
	logger *slog.Logger

	mu sync.RWMutex // guards db (swapped by Restore), requests and applied
	db *memdb.MemDB
	// requests remembers applied request ids, to apply each command once.
	requests *requestLog
	// applied is the index of the last command applied or restored.
	applied uint64
	// policy caches the compiled access policy.
	policy policyCache
	// revoked wakes the readers of the deny list (revoked.go).
	revoked revokedWatch
}

// New returns an empty state machine.
func New(cfg Config) *FSM {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &FSM{logger: logger.With("component", "fsm"), db: newDB(), requests: newRequestLog()}
	f.revoked.reset(f.db)
	return f
}

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("fsm: invalid schema: %v", err))
	}
	return db
}

// applyCtx is what a command handler may use: the envelope and its body.
type applyCtx struct {
	index uint64
	cmd   *kmsdpb.Command
	now   time.Time
}

// command registers how to decode and apply one command type.
type command struct {
	newBody func() proto.Message
	apply   func(tx *memdb.Txn, c *applyCtx, body proto.Message) ([]string, error)
}

// commands is the registry of command types; see commands.go.
var commands = map[kmsdpb.CommandType]command{}

func register[T proto.Message](t kmsdpb.CommandType, newBody func() T, apply func(*memdb.Txn, *applyCtx, T) ([]string, error)) {
	if _, dup := commands[t]; dup {
		panic(fmt.Sprintf("fsm: command %v registered twice", t))
	}
	commands[t] = command{
		newBody: func() proto.Message { return newBody() },
		apply: func(tx *memdb.Txn, c *applyCtx, body proto.Message) ([]string, error) {
			return apply(tx, c, body.(T))
		},
	}
}

// Encode builds the log entry for a command body.
func Encode(t kmsdpb.CommandType, env *kmsdpb.Command, body proto.Message) ([]byte, error) {
	b, err := proto.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode body: %w", err)
	}
	e := proto.Clone(env).(*kmsdpb.Command)
	e.Version = EnvelopeVersion
	e.Type = t
	e.Body = b
	return proto.Marshal(e)
}

// decodeEntry decodes a log entry and its body.
func decodeEntry(data []byte) (*kmsdpb.Command, command, proto.Message, error) {
	cmd := &kmsdpb.Command{}
	if err := proto.Unmarshal(data, cmd); err != nil {
		return nil, command{}, nil, fmt.Errorf("%w: undecodable envelope: %v", ErrMalformed, err)
	}
	if cmd.GetVersion() != EnvelopeVersion {
		return nil, command{}, nil, fmt.Errorf("%w: envelope version %d, this build applies %d", ErrMalformed, cmd.GetVersion(), EnvelopeVersion)
	}
	def, ok := commands[cmd.GetType()]
	if !ok {
		return nil, command{}, nil, fmt.Errorf("%w: unknown command type %v", ErrMalformed, cmd.GetType())
	}
	body := def.newBody()
	if err := proto.Unmarshal(cmd.GetBody(), body); err != nil {
		return nil, command{}, nil, fmt.Errorf("%w: undecodable %v body: %v", ErrMalformed, cmd.GetType(), err)
	}
	return cmd, def, body, nil
}

// ValidateCommand reports whether Apply can decode the entry: a known
// envelope version and command type, and a body that decodes. A leader
// checks every forwarded command with it before proposing, so that no
// forwarded bytes can reach Apply's panic.
func (f *FSM) ValidateCommand(data []byte) error {
	_, _, _, err := decodeEntry(data)
	return err
}

// Apply applies one committed log entry. It panics on an entry it cannot
// decode: continuing would let replicas diverge, and a correct leader never
// proposes one (ValidateCommand).
func (f *FSM) Apply(index uint64, data []byte) *Result {
	e := decodeForApply(index, data)
	f.mu.Lock()
	defer f.mu.Unlock()
	res := f.applyAlone(e)
	if index > f.applied {
		f.applied = index
	}
	return res
}

// applyOnce applies a command unless a command with the same request id was
// already applied, in which case it answers with that command's result.
func (f *FSM) applyOnce(tx *memdb.Txn, c *applyCtx, def command, body proto.Message) ([]string, error) {
	if prev := f.requests.seen(c.cmd.GetRequestId(), c.index); prev != nil {
		return prev.IDs, nil
	}
	clock := clockOf(tx)
	if c.now.Before(clock) {
		c.now = clock
	}
	ids, err := def.apply(tx, c, body)
	if err != nil {
		return nil, err
	}
	if c.now.After(clock) {
		if err := setClock(tx, c.now); err != nil {
			return nil, err
		}
	}
	f.requests.remember(c, ids)
	return ids, nil
}

// AppliedIndex returns the index of the last applied or restored entry.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// readTxn returns a read transaction on the current store.
func (f *FSM) readTxn() *memdb.Txn {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.Txn(false)
}

// Get returns the object with the given id.
func (f *FSM) Get(id string) (*Object, error) {
	return getObject(f.readTxn(), id)
}

func getObject(tx *memdb.Txn, id string) (*Object, error) {
	raw, err := tx.First(tableObjects, indexID, id)
	if err != nil {
		return nil, fmt.Errorf("fsm: lookup %q: %w", id, err)
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	return raw.(*row).object()
}

// hasObject reports whether an object with the id is stored.
func hasObject(tx *memdb.Txn, id string) bool {
	raw, err := tx.First(tableObjects, indexID, id)
	return err == nil && raw != nil
}

// putObject inserts or replaces an object after recomputing its indexes.
// With deleteObject it is the only writer of object rows in Apply, and both
// keep the tenants' usage (quota.go) in step.
func putObject(tx *memdb.Txn, o *Object) error {
	o.reindex()
	r := newRow(o)
	raw, err := tx.First(tableObjects, indexID, o.ID)
	if err == nil {
		err = tx.Insert(tableObjects, r)
	}
	if err != nil {
		return fmt.Errorf("fsm: insert %q: %w", o.ID, err)
	}
	before, _ := raw.(*row)
	return rowChanged(tx, before, r)
}

// deleteObject removes an object.
func deleteObject(tx *memdb.Txn, id string) error {
	raw, err := tx.First(tableObjects, indexID, id)
	if err == nil && raw != nil {
		if err = tx.Delete(tableObjects, raw); err == nil {
			err = rowChanged(tx, raw.(*row), nil)
		}
	}
	if err != nil {
		return fmt.Errorf("fsm: delete %q: %w", id, err)
	}
	return nil
}

// ApplyLog applies a committed entry for the Raft layer.
func (f *FSM) ApplyLog(index uint64, data []byte) any { return f.Apply(index, data) }

// SnapshotState captures the store for the Raft layer.
func (f *FSM) SnapshotState() interface {
	Persist(io.Writer) error
	Index() uint64
	KeyVersions() []uint32
} {
	return f.Snapshot()
}
