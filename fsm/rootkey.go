package fsm

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Root rotation. The state keeps the root epoch and the latest transition
// (the epoch's root key wrapped under the one before) in one row of the
// meta table, so that a node that still holds the previous root key can
// move to the new one; the state machine never sees a root key in clear.

const (
	metaRoot = "root"
	// maxRotateKeys bounds the keyring one ROTATE_ROOT carries.
	maxRotateKeys = 1 << 16
)

// rootRow is the meta row of the root transition (the meta table indexes
// its rows by Key only, whatever their type).
type rootRow struct {
	Key     string
	Epoch   uint64
	Wrapped []byte
}

func rootTransition(tx *memdb.Txn) (uint64, []byte, error) {
	raw, err := tx.First(tableMeta, indexID, metaRoot)
	if err != nil || raw == nil {
		return 0, nil, err
	}
	r := raw.(*rootRow)
	return r.Epoch, r.Wrapped, nil
}

func rootRowFromProto(p *kmsdpb.RootTransition) (*rootRow, error) {
	if p.GetEpoch() == 0 || len(p.GetWrappedRoot()) == 0 || len(p.GetWrappedRoot()) > maxSealedDataKey {
		return nil, fmt.Errorf("%w: root transition to epoch %d with %d wrapped bytes", ErrMalformed, p.GetEpoch(), len(p.GetWrappedRoot()))
	}
	return &rootRow{Key: metaRoot, Epoch: p.GetEpoch(), Wrapped: p.GetWrappedRoot()}, nil
}

// applyRotateRoot replaces the keyring with the command's, re-sealed under
// the next root key, all or nothing: the epoch is the next one, every key is
// a current version and the newest is among them (otherwise the keyring
// changed since the proposer read it), and every version left out seals no
// object. The result lists the retired versions.
func applyRotateRoot(tx *memdb.Txn, _ *applyCtx, body *kmsdpb.RotateRoot) ([]string, error) {
	next, err := rootRowFromProto(&kmsdpb.RootTransition{Epoch: body.GetEpoch(), WrappedRoot: body.GetWrappedRoot()})
	if err != nil {
		return nil, err
	}
	if n := len(body.GetKeys()); n == 0 || n > maxRotateKeys || !validClusterID(body.GetClusterId()) {
		return nil, fmt.Errorf("%w: root rotation with %d data keys", ErrMalformed, n)
	}
	keys := make([]*dataKey, len(body.GetKeys()))
	for i, p := range body.GetKeys() {
		if keys[i], err = dataKeyFromProto(p); err != nil {
			return nil, err
		}
		if i > 0 && keys[i].Version <= keys[i-1].Version {
			return nil, fmt.Errorf("%w: root rotation data keys out of order", ErrMalformed)
		}
	}
	if raw, err := tx.First(tableMeta, indexID, metaClusterID); err != nil {
		return nil, err
	} else if raw == nil || raw.(*metaRow).Value != body.GetClusterId() {
		return nil, ErrOtherCluster
	}
	epoch, _, err := rootTransition(tx)
	if err != nil {
		return nil, err
	}
	if next.Epoch != epoch+1 {
		return nil, fmt.Errorf("%w: root rotation to epoch %d, the keyring is at %d", ErrConflict, next.Epoch, epoch)
	}
	// The current keyring, oldest first (ids are zero-padded versions).
	var current []*dataKey
	it, err := tx.Get(tableDataKeys, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		current = append(current, raw.(*dataKey))
	}
	if len(current) == 0 {
		return nil, fmt.Errorf("%w: the keyring is empty", ErrConflict)
	}
	find := func(ks []*dataKey, v uint32) (*dataKey, bool) {
		i, ok := slices.BinarySearchFunc(ks, v, func(k *dataKey, v uint32) int { return cmp.Compare(k.Version, v) })
		if !ok {
			return nil, false
		}
		return ks[i], true
	}
	for _, k := range keys {
		cur, ok := find(current, k.Version)
		if !ok {
			return nil, fmt.Errorf("%w: data key version %d is not in the keyring", ErrConflict, k.Version)
		}
		k.Created = cur.Created
	}
	if latest := current[len(current)-1].Version; keys[len(keys)-1].Version != latest {
		return nil, fmt.Errorf("%w: the newest data key version is %d", ErrConflict, latest)
	}
	usage, err := keyUsage(tx)
	if err != nil {
		return nil, err
	}
	var retired []string
	for _, k := range current {
		if _, kept := find(keys, k.Version); kept {
			continue
		}
		if n := usage[k.Version]; n > 0 {
			return nil, fmt.Errorf("%w: version %d still seals %d objects", ErrKeyInUse, k.Version, n)
		}
		retired = append(retired, strconv.FormatUint(uint64(k.Version), 10))
		if err := tx.Delete(tableDataKeys, k); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if err := tx.Insert(tableDataKeys, k); err != nil {
			return nil, err
		}
	}
	if err := tx.Insert(tableMeta, next); err != nil {
		return nil, err
	}
	return retired, nil
}

// RootTransition returns the keyring's root epoch and that epoch's root key
// wrapped under the previous one; (0, nil) before any root rotation
// (seal.RootState).
func (f *FSM) RootTransition() (uint64, []byte) {
	epoch, wrapped, err := rootTransition(f.readTxn())
	if err != nil {
		return 0, nil
	}
	return epoch, wrapped
}

// IsRootRotation reports whether a log entry is a ROTATE_ROOT command, from
// the envelope's type field alone (the last one wins, as when decoding), so
// that the cluster can change the root key together with the keyring
// without decoding every entry.
func (f *FSM) IsRootRotation(entry []byte) bool {
	var typ uint64
	for len(entry) > 0 {
		num, wt, n := protowire.ConsumeTag(entry)
		if n < 0 {
			return false
		}
		entry = entry[n:]
		if num == 2 && wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(entry)
			if n < 0 {
				return false
			}
			typ, entry = v, entry[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, wt, entry); n < 0 {
			return false
		}
		entry = entry[n:]
	}
	return typ == uint64(kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT)
}

// EncodeRotateRoot builds the entry that replaces the root key and the
// keyring with a prepared rotation.
func (f *FSM) EncodeRotateRoot(env *kmsdpb.Command, clusterID string, rot seal.RootRotation) ([]byte, error) {
	body := &kmsdpb.RotateRoot{Epoch: rot.Epoch, WrappedRoot: rot.Wrapped, ClusterId: clusterID}
	for _, k := range rot.Keys {
		body.Keys = append(body.Keys, &kmsdpb.DataKey{Version: k.Version, Sealed: k.Sealed})
	}
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT, env, body)
}

// rootRecord is the snapshot record of the root transition; nil before any
// root rotation, so that snapshots without one keep their bytes.
func rootRecord(tx *memdb.Txn) (proto.Message, error) {
	epoch, wrapped, err := rootTransition(tx)
	if err != nil || epoch == 0 {
		return nil, err
	}
	return &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_RootTransition{
		RootTransition: &kmsdpb.RootTransition{Epoch: epoch, WrappedRoot: wrapped}}}, nil
}

// restoreRoot inserts the root transition record of a snapshot.
func restoreRoot(tx *memdb.Txn, p *kmsdpb.RootTransition) error {
	r, err := rootRowFromProto(p)
	if err != nil {
		return err
	}
	if raw, _ := tx.First(tableMeta, indexID, metaRoot); raw != nil {
		return fmt.Errorf("root transition appears twice")
	}
	return tx.Insert(tableMeta, r)
}
