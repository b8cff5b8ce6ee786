package seal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

const (
	recordFile    = "seal.json"
	recordFormat  = 1
	maxRecordSize = 64 << 10
	wrappedRoot   = nonceSize + keySize + tagSize // 60 bytes
	domainRoot    = "kmsd/v1/root"
)

// Record is a node's seal.json: which method protects the root key, the
// cluster id, the root key wrapped under the unseal key, and the method's
// public parameters. It never holds the root key or an unseal key in clear.
type Record struct {
	Format      int               `json:"format"` // 1
	Method      Method            `json:"method"`
	ClusterID   string            `json:"cluster_id"`           // 32 lowercase hex characters
	WrappedRoot []byte            `json:"wrapped_root"`         // nonce(12) | AES-256-GCM(root key) | tag(16), base64
	RootEpoch   uint64            `json:"root_epoch,omitempty"` // which root key: 0 for the cluster's first, +1 per rotation
	Passphrase  *PassphraseParams `json:"passphrase,omitempty"`
	Shamir      *ShamirParams     `json:"shamir,omitempty"`
	PKCS11      *PKCS11Params     `json:"pkcs11,omitempty"`

	raw []byte // the bytes it was parsed from
}

// rootAAD is "kmsd/v1/root" | lp(cluster id) | lp(method) | record format,
// then u64(root epoch) when the epoch is not 0 (so that records written
// before root rotation keep their AAD).
func rootAAD(rec *Record) []byte {
	aad := appendLP([]byte(domainRoot), rec.ClusterID)
	aad = appendLP(aad, string(rec.Method))
	aad = append(aad, byte(rec.Format))
	if rec.RootEpoch > 0 {
		aad = binary.BigEndian.AppendUint64(aad, rec.RootEpoch)
	}
	return aad
}

// ReadRecord reads and validates <dataDir>/seal.json; ErrNoRecord if absent.
func ReadRecord(dataDir string) (*Record, error) {
	f, err := os.Open(filepath.Join(dataDir, recordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoRecord
	}
	if err != nil {
		return nil, fmt.Errorf("seal: read seal record: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read seal record: %w", err)
	}
	return parseRecord(raw)
}

func parseRecord(raw []byte) (*Record, error) {
	if len(raw) > maxRecordSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadRecord, maxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	rec := &Record{}
	if err := dec.Decode(rec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the record", ErrBadRecord)
	}
	if rec.Format != recordFormat {
		return nil, fmt.Errorf("%w: format %d, want %d (a newer kmsd may have written it)", ErrBadRecord, rec.Format, recordFormat)
	}
	m, ok := methods[rec.Method]
	if !ok {
		return nil, fmt.Errorf("%w: unknown method %q", ErrBadRecord, rec.Method)
	}
	if !validClusterID(rec.ClusterID) {
		return nil, fmt.Errorf("%w: cluster id is not %d lowercase hex characters", ErrBadRecord, 2*clusterIDSize)
	}
	if len(rec.WrappedRoot) != wrappedRoot {
		return nil, fmt.Errorf("%w: wrapped root key is %d bytes, want %d", ErrBadRecord, len(rec.WrappedRoot), wrappedRoot)
	}
	for other, set := range map[Method]bool{
		MethodPassphrase: rec.Passphrase != nil,
		MethodShamir:     rec.Shamir != nil,
		MethodPKCS11:     rec.PKCS11 != nil,
	} {
		if set && other != rec.Method {
			return nil, fmt.Errorf("%w: %q parameters in a %q record", ErrBadRecord, other, rec.Method)
		}
	}
	if err := m.check(rec); err != nil {
		return nil, err
	}
	rec.raw = slices.Clone(raw)
	return rec, nil
}

// bytes returns the record as stored in seal.json.
func (r *Record) bytes() ([]byte, error) {
	if r.raw != nil {
		return slices.Clone(r.raw), nil
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(raw, '\n'), nil
}

// Init creates a new cluster: a random cluster id and root key, protected
// under opts' method in <dataDir>/seal.json. The barrier is left unsealed.
// For shamir it returns the shares, each to be handed to one operator; they
// are shown only this once and stored nowhere. It refuses with
// ErrAlreadyInitialized when seal.json exists.
func (b *Barrier) Init(dataDir string, opts InitOptions) (shares []string, err error) {
	if !b.Sealed() {
		return nil, ErrAlreadyUnsealed
	}
	root := make([]byte, keySize)
	randRead(root)
	rec, shares, keep, err := protect(dataDir, root, newClusterID(), opts)
	if err != nil {
		clear(root)
		return nil, err
	}
	if err := b.install(root, rec.ClusterID, rec.raw, recordState(rec, keep)); err != nil {
		return nil, err
	}
	return shares, nil
}

// Protect writes a seal record for the current root key under this node's
// own method, for a node that got the root key by joining. Shamir nodes
// share the cluster's record instead: see Record and AdoptRecord.
func (b *Barrier) Protect(dataDir string, opts InitOptions) error {
	if opts.Method == MethodShamir {
		return ErrUseAdoptRecord
	}
	b.mu.RLock()
	if b.root == nil {
		b.mu.RUnlock()
		return ErrSealed
	}
	root, id := slices.Clone(b.root), b.clusterID
	b.mu.RUnlock()
	defer clear(root)
	rec, _, keep, err := protect(dataDir, root, id, opts)
	if err != nil {
		return err
	}
	b.setRecord(id, rec, keep)
	return nil
}

// Record returns this node's seal.json bytes (the wrapped root key and the
// method's public parameters: no secrets), for a joiner to AdoptRecord.
func (b *Barrier) Record() ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, ErrSealed
	}
	if b.record == nil {
		return nil, ErrNoRecord
	}
	return slices.Clone(b.record), nil
}

// AdoptRecord stores a member's Record() as this node's seal.json, so that
// the same shares (or passphrase, or HSM key) unseal every node. The barrier
// must hold the cluster's root key (after UnsealFromJoin); the record is
// checked for form and cluster id, since opening it needs the operators'
// input. A file-method record is refused: its unseal.key stays on its node.
func (b *Barrier) AdoptRecord(dataDir string, raw []byte) error {
	rec, err := parseRecord(raw)
	if err != nil {
		return err
	}
	id := b.ClusterID()
	switch {
	case id == "":
		return ErrSealed
	case rec.ClusterID != id:
		return ErrWrongCluster
	case rec.Method == MethodFile:
		return ErrNodeLocalRecord
	}
	path := filepath.Join(dataDir, recordFile)
	if old, err := os.ReadFile(path); err == nil {
		if !bytes.Equal(old, raw) {
			return ErrAlreadyInitialized
		}
	} else if err := writeNew(path, raw); err != nil {
		return err
	}
	b.setRecord(id, rec, nil)
	return nil
}

// setRecord notes that rec is now this node's seal.json, with keep (owned,
// may be nil) as the retained unseal secret.
func (b *Barrier) setRecord(clusterID string, rec *Record, keep []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clusterID != clusterID {
		clear(keep)
		return
	}
	b.record = rec.raw
	b.rs.recorded(rec, keep)
}

// protect writes a new seal.json protecting root for the cluster id. keep is
// what a barrier retains to protect a later root key the same way (see
// retainable).
func protect(dataDir string, root []byte, clusterID string, opts InitOptions) (rec *Record, shares []string, keep []byte, err error) {
	if opts.Method == "" {
		opts.Method = MethodFile
	}
	m, ok := methods[opts.Method]
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: unknown method %q; use file, passphrase, shamir or pkcs11", ErrBadOptions, opts.Method)
	}
	path := filepath.Join(dataDir, recordFile)
	if _, err := os.Lstat(path); err == nil {
		return nil, nil, nil, ErrAlreadyInitialized
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("seal: data folder: %w", err)
	}
	rec = &Record{Format: recordFormat, Method: opts.Method, ClusterID: clusterID}
	c, err := m.create(dataDir, rec, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.kek.close()
	undo := func() {
		if c.undo != nil {
			c.undo()
		}
	}
	if rec.WrappedRoot, err = c.kek.wrap(root, rootAAD(rec)); err != nil {
		undo()
		return nil, nil, nil, err
	}
	raw, err := rec.bytes()
	if err == nil {
		err = writeNew(path, raw)
	}
	if err != nil {
		undo()
		return nil, nil, nil, err
	}
	rec.raw = raw
	return rec, c.shares, retainable(opts, c.kek), nil
}

// writeNew writes data to path with mode 0600, durably, failing with
// ErrAlreadyInitialized if path exists: a temporary file is synced and then
// hard-linked into place, so a reader never sees half a file.
func writeNew(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".seal-*")
	if err != nil {
		return fmt.Errorf("seal: write %s: %w", filepath.Base(path), err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return ErrAlreadyInitialized
	}
	if err != nil {
		return fmt.Errorf("seal: write %s: %w", filepath.Base(path), err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
