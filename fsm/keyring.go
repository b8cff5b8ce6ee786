package fsm

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The keyring: versions of the data key, each sealed under the root key by
// the proposer. The state machine stores them and enforces the rules that
// keep every object openable: versions only grow, the newest is never
// retired, and no version that an object is still sealed with is retired.
// A root rotation (ROTATE_ROOT, rootkey.go) replaces the whole keyring at
// once, re-sealed under a new root key, and records the root epoch; a data
// key is added only under the current epoch.

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_ADD_DATA_KEY, func() *kmsdpb.AddDataKey { return &kmsdpb.AddDataKey{} }, applyAddDataKey)
	register(kmsdpb.CommandType_COMMAND_TYPE_RETIRE_DATA_KEY, func() *kmsdpb.RetireDataKey { return &kmsdpb.RetireDataKey{} }, applyRetireDataKey)
	register(kmsdpb.CommandType_COMMAND_TYPE_REWRAP, func() *kmsdpb.Rewrap { return &kmsdpb.Rewrap{} }, applyRewrap)
	register(kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT, func() *kmsdpb.RotateRoot { return &kmsdpb.RotateRoot{} }, applyRotateRoot)
}

const (
	tableDataKeys = "datakeys"
	// maxSealedDataKey bounds a sealed data key (a 32-byte key, nonce and
	// tag, with room for other wrappings).
	maxSealedDataKey = 256
	// maxRewrapItems bounds one Rewrap entry.
	maxRewrapItems = 1024
)

// dataKey is one keyring version as stored.
type dataKey struct {
	ID      string // the version in decimal, for the id index
	Version uint32
	Sealed  []byte
	Created int64
}

func (k *dataKey) toProto() *kmsdpb.DataKey {
	return &kmsdpb.DataKey{Version: k.Version, Sealed: k.Sealed, CreatedUnixNano: k.Created}
}

func dataKeyFromProto(p *kmsdpb.DataKey) (*dataKey, error) {
	if p.GetVersion() == 0 || len(p.GetSealed()) == 0 || len(p.GetSealed()) > maxSealedDataKey {
		return nil, fmt.Errorf("%w: data key version %d with %d sealed bytes", ErrMalformed, p.GetVersion(), len(p.GetSealed()))
	}
	return &dataKey{ID: versionID(p.GetVersion()), Version: p.GetVersion(), Sealed: p.GetSealed(), Created: p.GetCreatedUnixNano()}, nil
}

func versionID(v uint32) string { return fmt.Sprintf("%010d", v) }

func applyAddDataKey(tx *memdb.Txn, c *applyCtx, body *kmsdpb.AddDataKey) ([]string, error) {
	k, err := dataKeyFromProto(body.GetKey())
	if err != nil {
		return nil, err
	}
	if !validClusterID(body.GetClusterId()) {
		return nil, fmt.Errorf("%w: cluster id", ErrMalformed)
	}
	raw, err := tx.First(tableMeta, indexID, metaClusterID)
	if err != nil {
		return nil, err
	}
	switch {
	case raw == nil:
		if err := tx.Insert(tableMeta, &metaRow{Key: metaClusterID, Value: body.GetClusterId()}); err != nil {
			return nil, err
		}
	case raw.(*metaRow).Value != body.GetClusterId():
		return nil, ErrOtherCluster
	}
	latest, err := latestDataKey(tx)
	if err != nil {
		return nil, err
	}
	next := uint32(1)
	if latest != nil {
		next = latest.Version + 1
	}
	if k.Version != next {
		return nil, fmt.Errorf("%w: data key version %d, the next is %d", ErrConflict, k.Version, next)
	}
	if epoch, _, err := rootTransition(tx); err != nil {
		return nil, err
	} else if body.GetRootEpoch() != epoch {
		// Sealed under a root key the keyring no longer uses.
		return nil, fmt.Errorf("%w: data key sealed under root epoch %d, the keyring is at %d", ErrConflict, body.GetRootEpoch(), epoch)
	}
	k.Created = c.cmd.GetTimeUnixNano()
	if err := tx.Insert(tableDataKeys, k); err != nil {
		return nil, err
	}
	return []string{strconv.FormatUint(uint64(k.Version), 10)}, nil
}

func applyRetireDataKey(tx *memdb.Txn, _ *applyCtx, body *kmsdpb.RetireDataKey) ([]string, error) {
	raw, err := tx.First(tableDataKeys, indexID, versionID(body.GetVersion()))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	latest, err := latestDataKey(tx)
	if err != nil {
		return nil, err
	}
	if latest.Version == body.GetVersion() {
		return nil, ErrKeyInUse
	}
	usage, err := keyUsage(tx)
	if err != nil {
		return nil, err
	}
	if usage[body.GetVersion()] > 0 {
		return nil, ErrKeyInUse
	}
	if err := tx.Delete(tableDataKeys, raw); err != nil {
		return nil, err
	}
	return nil, nil
}

// applyRewrap replaces sealed material item by item; an object that changed
// since the proposer read it (or is gone, or destroyed) is left alone. The
// result lists the objects that were re-sealed.
func applyRewrap(tx *memdb.Txn, _ *applyCtx, body *kmsdpb.Rewrap) ([]string, error) {
	if len(body.GetItems()) == 0 || len(body.GetItems()) > maxRewrapItems {
		return nil, fmt.Errorf("%w: rewrap of %d objects", ErrMalformed, len(body.GetItems()))
	}
	var done []string
	for _, it := range body.GetItems() {
		if len(it.GetSealedMaterial()) == 0 || len(it.GetPreviousSha256()) != sha256.Size {
			return nil, fmt.Errorf("%w: rewrap item %q", ErrMalformed, it.GetId())
		}
		if it.GetId() == AuthorityID {
			if checkKeyVersion(tx, it.GetSealedMaterial()) != nil {
				continue
			}
			if ok, err := rewrapAuthority(tx, it); err != nil {
				return nil, err
			} else if ok {
				done = append(done, it.GetId())
			}
			continue
		}
		o, err := getObject(tx, it.GetId())
		if err != nil || len(o.Material) == 0 || checkKeyVersion(tx, it.GetSealedMaterial()) != nil {
			continue
		}
		if sum := sha256.Sum256(o.Material); !bytes.Equal(sum[:], it.GetPreviousSha256()) {
			continue
		}
		o.Material = it.GetSealedMaterial()
		if err := putObject(tx, o); err != nil {
			return nil, err
		}
		done = append(done, o.ID)
	}
	return done, nil
}

// checkKeyVersion refuses material sealed under a data key version the
// keyring does not hold: a proposal sealed before a retire that commits
// after it would otherwise store an object that nobody can open. A store
// without a keyring (the store tested on its own) checks nothing.
func checkKeyVersion(tx *memdb.Txn, material []byte) error {
	if len(material) == 0 {
		return nil
	}
	latest, err := latestDataKey(tx)
	if err != nil || latest == nil {
		return err
	}
	v, err := seal.BlobVersion(material)
	if err != nil {
		return fmt.Errorf("%w: sealed material: %v", ErrMalformed, err)
	}
	raw, err := tx.First(tableDataKeys, indexID, versionID(v))
	if err != nil {
		return err
	}
	if raw == nil {
		return ErrRetiredKey
	}
	return nil
}

func latestDataKey(tx *memdb.Txn) (*dataKey, error) {
	raw, err := tx.Last(tableDataKeys, indexID)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*dataKey), nil
}

// keyUsage counts the objects sealed with each data key version.
func keyUsage(tx *memdb.Txn) (map[uint32]int, error) {
	it, err := tx.Get(tableObjects, indexID)
	if err != nil {
		return nil, err
	}
	out := map[uint32]int{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		m := raw.(*row).material()
		if len(m) == 0 {
			continue
		}
		v, err := seal.BlobVersion(m)
		if err != nil {
			v = 0 // unreadable: counted apart, never blocks a retire
		}
		out[v]++
	}
	for _, s := range authoritySealed(tx) {
		if v, err := seal.BlobVersion(s.Material); err == nil {
			out[v]++
		}
	}
	return out, nil
}

// validClusterID accepts 1 to 64 characters of [0-9a-zA-Z-].
func validClusterID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}

// ClusterState returns the cluster id and the keyring's versions, oldest
// first.
func (f *FSM) ClusterState() (string, []uint32) {
	return f.ClusterID(), keyVersions(f.readTxn())
}

// keyVersions lists the keyring's versions, oldest first.
func keyVersions(tx *memdb.Txn) []uint32 {
	var versions []uint32
	it, err := tx.Get(tableDataKeys, indexID)
	if err == nil {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			versions = append(versions, raw.(*dataKey).Version)
		}
	}
	return versions
}

// DataKey returns the sealed data key of a version (seal.KeySource).
func (f *FSM) DataKey(version uint32) ([]byte, bool) {
	raw, err := f.readTxn().First(tableDataKeys, indexID, versionID(version))
	if err != nil || raw == nil {
		return nil, false
	}
	return raw.(*dataKey).Sealed, true
}

// LatestDataKey returns the newest data key (seal.KeySource).
func (f *FSM) LatestDataKey() (uint32, []byte, bool) {
	k, err := latestDataKey(f.readTxn())
	if err != nil || k == nil {
		return 0, nil, false
	}
	return k.Version, k.Sealed, true
}

// Keyring lists every data key version, oldest first, with how many
// objects each seals, the newest marked Latest; unreadable counts objects
// whose material names no version.
func (f *FSM) Keyring() (versions []seal.KeyVersion, unreadable int, err error) {
	tx := f.readTxn()
	usage, err := keyUsage(tx)
	if err != nil {
		return nil, 0, err
	}
	it, err := tx.Get(tableDataKeys, indexID)
	if err != nil {
		return nil, 0, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		k := raw.(*dataKey)
		versions = append(versions, seal.KeyVersion{Version: k.Version, Created: time.Unix(0, k.Created).UTC(), Objects: usage[k.Version]})
	}
	if len(versions) > 0 {
		versions[len(versions)-1].Latest = true
	}
	return versions, usage[0], nil
}

// DataKeys returns every keyring entry, oldest first, read at one point in
// time.
func (f *FSM) DataKeys() ([]seal.SealedDataKey, error) {
	it, err := f.readTxn().Get(tableDataKeys, indexID)
	if err != nil {
		return nil, err
	}
	var out []seal.SealedDataKey
	for raw := it.Next(); raw != nil; raw = it.Next() {
		k := raw.(*dataKey)
		out = append(out, seal.SealedDataKey{Version: k.Version, Sealed: slices.Clone(k.Sealed)})
	}
	return out, nil
}

// maxSealedObjects bounds one SealedObjects page.
const maxSealedObjects = 4096

// SealedObjects returns up to limit objects that hold material, in id
// order, starting after the id after ("" for the first page), for a rewrap
// to walk the store page by page.
func (f *FSM) SealedObjects(after string, limit int) ([]seal.SealedObject, error) {
	limit = min(max(limit, 1), maxSealedObjects)
	it, err := f.readTxn().LowerBound(tableObjects, indexID, after)
	if err != nil {
		return nil, err
	}
	var out []seal.SealedObject
	if after == "" {
		// The CA key is rewrapped with the objects, ahead of them.
		out = authoritySealed(f.readTxn())
	}
	for raw := it.Next(); raw != nil && len(out) < limit; raw = it.Next() {
		r := raw.(*row)
		if (after != "" && r.ID <= after) || r.matLen == 0 {
			continue
		}
		out = append(out, seal.SealedObject{ID: r.ID, Owner: r.Owner, Material: slices.Clone(r.material())})
	}
	return out, nil
}

// EncodeAddDataKey builds the entry that adds a keyring version.
func (f *FSM) EncodeAddDataKey(env *kmsdpb.Command, clusterID string, version uint32, sealed []byte) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_ADD_DATA_KEY, env,
		&kmsdpb.AddDataKey{Key: &kmsdpb.DataKey{Version: version, Sealed: sealed}, ClusterId: clusterID})
}

// EncodeRetireDataKey builds the entry that retires a keyring version.
func (f *FSM) EncodeRetireDataKey(env *kmsdpb.Command, version uint32) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_RETIRE_DATA_KEY, env, &kmsdpb.RetireDataKey{Version: version})
}

// EncodeNextDataKey builds the entry that adds a keyring version sealed
// under the root key of rootEpoch.
func (f *FSM) EncodeNextDataKey(env *kmsdpb.Command, clusterID string, rootEpoch uint64, version uint32, sealed []byte) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_ADD_DATA_KEY, env,
		&kmsdpb.AddDataKey{Key: &kmsdpb.DataKey{Version: version, Sealed: sealed}, ClusterId: clusterID, RootEpoch: rootEpoch})
}

// RewrapItem is one object's new sealed material: Previous is the sealed
// material that was re-sealed.
type RewrapItem = seal.Resealed

// EncodeRewrap builds the entry that replaces sealed material.
func (f *FSM) EncodeRewrap(env *kmsdpb.Command, items []RewrapItem) ([]byte, error) {
	body := &kmsdpb.Rewrap{}
	for _, it := range items {
		sum := sha256.Sum256(it.Previous)
		body.Items = append(body.Items, &kmsdpb.RewrapItem{Id: it.ID, PreviousSha256: sum[:], SealedMaterial: it.Sealed})
	}
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_REWRAP, env, body)
}

// ResultIDs returns the ids an Apply result reports.
func (f *FSM) ResultIDs(res any) []string {
	if r, ok := res.(*Result); ok {
		return r.IDs
	}
	return nil
}
