package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The keyring operations: rotate (a new data key version), rewrap (every
// object sealed again under the newest version), retire (a version that
// seals nothing any more goes, and the root key is replaced so that old
// copies of the keyring open no more), and the listing. Every key is made
// and used by the barrier; this file only reads the replicated state,
// proposes commands and keeps the barrier on the keyring's root key (see
// rootFollower).

// KeyringState is what the keyring operations need from the state machine
// (*fsm.FSM satisfies it). None of it is a key in clear.
type KeyringState interface {
	seal.KeySource
	seal.RootState
	ClusterID() string
	// Keyring lists every version, oldest first, with the objects each
	// seals; unreadable counts material that names no version.
	Keyring() (versions []seal.KeyVersion, unreadable int, err error)
	// DataKeys returns every keyring entry, oldest first.
	DataKeys() ([]seal.SealedDataKey, error)
	// SealedObjects pages through the objects with material, in id order,
	// after the id after.
	SealedObjects(after string, limit int) ([]seal.SealedObject, error)
	// IsRootRotation reports whether a log entry replaces the root key.
	IsRootRotation(entry []byte) bool
	EncodeNextDataKey(env *kmsdpb.Command, clusterID string, rootEpoch uint64, version uint32, sealed []byte) ([]byte, error)
	EncodeRewrap(env *kmsdpb.Command, items []seal.Resealed) ([]byte, error)
	EncodeRotateRoot(env *kmsdpb.Command, clusterID string, rot seal.RootRotation) ([]byte, error)
	// ResultIDs are the ids an applied command reports (for a rewrap: the
	// objects it re-sealed).
	ResultIDs(res any) []string
}

// Keyring errors.
var (
	ErrNoKeyring         = errors.New("cluster: this node has no keyring")
	ErrKeyInUse          = errors.New("cluster: the data key version is in use")
	ErrUnknownKeyVersion = errors.New("cluster: no such data key version")
	ErrKeyringChanged    = errors.New("cluster: the keyring changed while the command was in flight " +
		"(another rotate, rewrap or retire won the race); look at `kmsctl operator keyring` and try again")
	// ErrRootBehind wraps why this node's barrier does not hold the
	// keyring's root key (seal.ErrRootMismatch, ...).
	ErrRootBehind = errors.New("cluster: this node's root key does not open the keyring")
)

// Rewrap batches.
const (
	DefaultRewrapBatch = 256
	MaxRewrapBatch     = 1024
	// rewrapOverhead is what one item adds to an entry beyond its id and
	// material (hash, tags, lengths).
	rewrapOverhead = 64
)

// RewrapProgress is where a rewrap stands.
type RewrapProgress struct {
	Version   uint32 // the newest data key version, which objects are sealed under
	Total     int    // objects with material when the rewrap started
	Current   int    // already under Version (or newer)
	Rewrapped int    // sealed again by this run
	Skipped   int    // changed between the read and the commit: left alone
	Failed    int    // material that does not open: left alone, logged by id
	Done      bool
}

func (n *Node) keyringState() (KeyringState, error) {
	if n.cfg.Keyring == nil {
		return nil, ErrNoKeyring
	}
	return n.cfg.Keyring, nil
}

// keyringReady is the start of every keyring operation: a read barrier, so
// that the state holds every acknowledged change, and the barrier on the
// state's root key.
func (n *Node) keyringReady(ctx context.Context) (KeyringState, error) {
	ks, err := n.keyringState()
	if err != nil {
		return nil, err
	}
	if err := n.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	if err := n.root.sync(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRootBehind, err)
	}
	return ks, nil
}

// applyKeyring proposes a keyring command; a domain error means another
// keyring change came first.
func (n *Node) applyKeyring(ctx context.Context, entry []byte) (any, error) {
	res, err := n.Apply(ctx, entry)
	if err != nil {
		return nil, err
	}
	if err := n.sm.Outcome(res); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyringChanged, err)
	}
	return res, nil
}

// RotateKey adds the next data key version, which new seals use from then
// on. actor names the operator.
func (n *Node) RotateKey(ctx context.Context, actor string) (uint32, error) {
	ks, err := n.keyringReady(ctx)
	if err != nil {
		return 0, err
	}
	latest, _, ok := ks.LatestDataKey()
	if !ok {
		return 0, fmt.Errorf("%w: the keyring has no version yet", ErrNoKeyring)
	}
	if latest == math.MaxUint32 {
		return 0, fmt.Errorf("%w: no version after %d", ErrInvalidArgument, latest)
	}
	epoch, _ := ks.RootTransition()
	sealed, err := n.cfg.Barrier.NewDataKey(latest + 1)
	if err != nil {
		return 0, err
	}
	entry, err := ks.EncodeNextDataKey(n.envelope(time.Now(), actor, nil), ks.ClusterID(), epoch, latest+1, sealed)
	if err != nil {
		return 0, err
	}
	if _, err := n.applyKeyring(ctx, entry); err != nil {
		return 0, err
	}
	n.logger.Info("data key rotated", "version", latest+1, "actor", actor)
	return latest + 1, nil
}

// Keyring lists the data key versions after a read barrier.
func (n *Node) Keyring(ctx context.Context) (versions []seal.KeyVersion, unreadable int, err error) {
	ks, err := n.keyringState()
	if err != nil {
		return nil, 0, err
	}
	if err := n.ReadBarrier(ctx); err != nil {
		return nil, 0, err
	}
	return ks.Keyring()
}

// Rewrap seals every object whose material names an older data key version
// again under the newest, batch objects per log entry (0: the default),
// calling progress after every batch. Running it again continues where it
// stopped; ctx cancels it between items. Plaintext exists only inside the
// barrier, one object at a time.
func (n *Node) Rewrap(ctx context.Context, batch int, progress func(RewrapProgress)) (RewrapProgress, error) {
	if batch == 0 {
		batch = DefaultRewrapBatch
	}
	if batch < 0 || batch > MaxRewrapBatch {
		return RewrapProgress{}, fmt.Errorf("%w: a rewrap batch is 1 to %d objects", ErrInvalidArgument, MaxRewrapBatch)
	}
	if progress == nil {
		progress = func(RewrapProgress) {}
	}
	ks, err := n.keyringReady(ctx)
	if err != nil {
		return RewrapProgress{}, err
	}
	versions, unreadable, err := ks.Keyring()
	if err != nil {
		return RewrapProgress{}, err
	}
	if len(versions) == 0 {
		return RewrapProgress{}, fmt.Errorf("%w: the keyring has no version yet", ErrNoKeyring)
	}
	p := RewrapProgress{Version: versions[len(versions)-1].Version, Total: unreadable}
	for _, v := range versions {
		p.Total += v.Objects
	}
	w := &rewrapper{n: n, ks: ks, p: &p, limit: n.cfg.MaxCommandSize * 3 / 4}
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		page, err := ks.SealedObjects(after, batch)
		if err != nil {
			return p, err
		}
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			after = o.ID
			if err := ctx.Err(); err != nil {
				return p, err
			}
			if err := w.add(ctx, o); err != nil {
				return p, err
			}
		}
		if err := w.flush(ctx); err != nil {
			return p, err
		}
		progress(p)
	}
	p.Done = true
	progress(p)
	n.logger.Info("rewrap done", "version", p.Version, "total", p.Total, "current", p.Current,
		"rewrapped", p.Rewrapped, "skipped", p.Skipped, "failed", p.Failed)
	return p, nil
}

// rewrapper collects re-sealed items into entries below the size limit.
type rewrapper struct {
	n     *Node
	ks    KeyringState
	p     *RewrapProgress
	limit int
	items []seal.Resealed
	size  int
}

func (w *rewrapper) add(ctx context.Context, o seal.SealedObject) error {
	if v, err := seal.BlobVersion(o.Material); err == nil && v >= w.p.Version {
		w.p.Current++
		return nil
	}
	r, err := w.n.cfg.Barrier.Reseal(o)
	if err != nil {
		w.p.Failed++
		w.n.logger.Warn("rewrap: object material does not open; left as it is", "id", o.ID, "err", err)
		return nil
	}
	size := len(r.ID) + len(r.Sealed) + rewrapOverhead
	if len(w.items) > 0 && w.size+size > w.limit {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	w.items = append(w.items, r)
	w.size += size
	if len(w.items) == MaxRewrapBatch {
		return w.flush(ctx)
	}
	return nil
}

func (w *rewrapper) flush(ctx context.Context) error {
	if len(w.items) == 0 {
		return nil
	}
	entry, err := w.ks.EncodeRewrap(w.n.envelope(time.Now(), "kmsd-rewrap", nil), w.items)
	if err != nil {
		return err
	}
	res, err := w.n.applyKeyring(ctx, entry)
	if err != nil {
		return err
	}
	done := len(w.ks.ResultIDs(res))
	w.p.Rewrapped += done
	w.p.Skipped += len(w.items) - done
	w.items, w.size = w.items[:0], 0
	return nil
}

// RetireKey removes data key version, which must not be the newest and
// must seal no object, and replaces the root key in the same command: the
// remaining data keys are sealed under a new root key, which every node
// installs from the replicated state, so that copies of the keyring taken
// before (snapshots, old log entries, free pages of the log store) open
// under no root key any node or seal.json holds.
func (n *Node) RetireKey(ctx context.Context, version uint32, actor string) error {
	ks, err := n.keyringReady(ctx)
	if err != nil {
		return err
	}
	versions, _, err := ks.Keyring()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(versions, func(v seal.KeyVersion) bool { return v.Version == version })
	switch {
	case i < 0:
		return fmt.Errorf("%w: version %d is not in the keyring", ErrUnknownKeyVersion, version)
	case versions[i].Latest:
		return fmt.Errorf("%w: version %d is the newest, which new objects are sealed with; rotate first (`kmsctl operator rotate`), rewrap, then retire it", ErrKeyInUse, version)
	case versions[i].Objects > 0:
		return fmt.Errorf("%w: version %d still seals %d objects; run `kmsctl operator rewrap` first", ErrKeyInUse, version, versions[i].Objects)
	}
	keys, err := ks.DataKeys()
	if err != nil {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k seal.SealedDataKey) bool { return k.Version == version })
	epoch, _ := ks.RootTransition()
	rot, err := n.cfg.Barrier.PrepareRootRotation(epoch+1, keys)
	if err != nil {
		return err
	}
	entry, err := ks.EncodeRotateRoot(n.envelope(time.Now(), actor, nil), ks.ClusterID(), rot)
	if err != nil {
		return err
	}
	if _, err := n.applyKeyring(ctx, entry); err != nil {
		return err
	}
	n.logger.Warn("data key retired and root key replaced", "version", version, "root_epoch", rot.Epoch, "actor", actor)
	// This node moved its root key when it applied the entry; write its
	// seal.json now rather than on the follower's next turn (a failure is
	// logged and retried there).
	_ = n.root.sync()
	return nil
}

// rootCheckInterval is how often a node checks, with nothing else
// happening, that its barrier holds the keyring's root key and that
// seal.json protects it.
const rootCheckInterval = 5 * time.Second

// rootFollower keeps this node's barrier on the root key of the replicated
// keyring. A ROTATE_ROOT entry is applied inside the barrier's write lock
// (apply), so that the new keyring and the new root key appear together; a
// snapshot restore is followed at once (restored). Writing seal.json needs
// I/O (and for pkcs11 the HSM), so it runs in a goroutine of its own
// (watch), woken after a move and every rootCheckInterval: the apply path
// never waits for a disk or an HSM.
type rootFollower struct {
	ks      KeyringState
	b       *seal.Barrier
	dataDir string
	logger  *slog.Logger
	kick    chan struct{}

	syncMu  sync.Mutex // serializes sync
	logMu   sync.Mutex // guards problem; never held across I/O
	problem string     // the last problem logged, so that each is logged once
}

func newRootFollower(cfg Config, logger *slog.Logger) *rootFollower {
	if cfg.Keyring == nil {
		return nil
	}
	return &rootFollower{ks: cfg.Keyring, b: cfg.Barrier, dataDir: cfg.DataDir, logger: logger, kick: make(chan struct{}, 1)}
}

// apply applies one committed entry; it runs in raft's FSM goroutine.
func (r *rootFollower) apply(sm StateMachine, l *raft.Log) any {
	if !r.ks.IsRootRotation(l.Data) {
		return sm.ApplyLog(l.Index, l.Data)
	}
	var res any
	moved, err := r.b.FollowRoot(r.ks, func() { res = sm.ApplyLog(l.Index, l.Data) })
	r.followed(moved, err)
	return res
}

// restored follows the keyring of a snapshot just restored.
func (r *rootFollower) restored() {
	moved, err := r.b.FollowRoot(r.ks, nil)
	r.followed(moved, err)
}

func (r *rootFollower) followed(moved bool, err error) {
	if moved {
		epoch, _ := r.ks.RootTransition()
		r.logger.Info("root key replaced from the replicated keyring", "root_epoch", epoch)
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	if err != nil {
		r.report(err)
	}
}

// start runs watch until stop closes.
func (r *rootFollower) start(stop <-chan struct{}, wg *sync.WaitGroup) {
	if r == nil {
		return
	}
	wg.Go(func() {
		t := time.NewTicker(rootCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-r.kick:
			case <-t.C:
			}
			_ = r.sync()
		}
	})
}

// sync moves the barrier to the keyring's root key if it is behind, then
// writes seal.json if it does not protect the key held. It returns the
// error of the move only: a seal.json that cannot be written yet is logged
// and retried, and does not stop the keyring from being used. A sealed
// barrier has nothing to sync.
func (r *rootFollower) sync() error {
	if r == nil || r.b.Sealed() {
		return nil
	}
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	moved, err := r.b.FollowRoot(r.ks, nil)
	if moved {
		r.logger.Info("root key replaced from the replicated keyring", "root_epoch", r.b.RootEpoch())
	}
	if err != nil {
		r.report(err)
		return err
	}
	written, err := r.b.RewriteRecord(r.dataDir)
	if written {
		r.logger.Info("seal.json now protects the new root key", "root_epoch", r.b.RootEpoch())
	}
	if err != nil {
		r.report(err)
		return nil
	}
	r.logMu.Lock()
	r.problem = ""
	r.logMu.Unlock()
	return nil
}

// report logs a problem once. A state older than the root key is expected
// while a restarted node replays its log: that is only debug.
func (r *rootFollower) report(err error) {
	if errors.Is(err, seal.ErrSealed) {
		return
	}
	if epoch, _ := r.ks.RootTransition(); errors.Is(err, seal.ErrRootMismatch) && epoch < r.b.RootEpoch() {
		r.logger.Debug("the state is older than the root key; waiting for it to catch up", "state_epoch", epoch, "root_epoch", r.b.RootEpoch())
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	if msg := err.Error(); msg != r.problem {
		r.problem = msg
		r.logger.Error("root key does not follow the keyring", "err", err)
	}
}
