package seal

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Writing seal.json again after the root key moved (FollowRoot): the same
// method and public parameters (salt, Argon2 costs, Shamir commitments, HSM
// key), the new root key wrapped under the same unseal key, so that the
// operator's passphrase, shares or PIN keep working. The unseal key comes
// from what the barrier retained at unseal (rootState.keep) or, for the
// file method, from unseal.key. The old record is replaced, not kept: it is
// the one place the old root key could still be unwrapped from.

// retainable is what a barrier keeps while unsealed to protect a later root
// key with the unseal method of opts: a copy of the software unseal key
// (passphrase, shamir) or the PIN (pkcs11); nil for the file method.
func retainable(opts InitOptions, k kek) []byte {
	switch opts.Method {
	case MethodPassphrase, MethodShamir:
		if a, ok := k.(*aesKEK); ok {
			return slices.Clone(a.key)
		}
	case MethodPKCS11:
		if opts.PKCS11.PIN != "" {
			return []byte(opts.PKCS11.PIN)
		}
	}
	return nil
}

// RewriteRecord writes <dataDir>/seal.json again when it does not protect
// the root key the barrier holds (after FollowRoot moved it). written is
// false when there was nothing to do. Before writing, the unseal key must
// open the record it replaces, so a record is never replaced by one that
// another key protects. The file is replaced atomically (temporary file,
// fsync, rename, fsync of the folder).
func (b *Barrier) RewriteRecord(dataDir string) (written bool, err error) {
	b.rewriteMu.Lock()
	defer b.rewriteMu.Unlock()
	b.mu.RLock()
	if b.root == nil {
		b.mu.RUnlock()
		return false, ErrSealed
	}
	if !b.rs.stale() {
		b.mu.RUnlock()
		return false, nil
	}
	root, id, epoch, keep := slices.Clone(b.root), b.clusterID, b.rs.epoch, slices.Clone(b.rs.keep)
	b.mu.RUnlock()
	defer clear(root)
	defer clear(keep)

	cur, err := ReadRecord(dataDir)
	if err != nil {
		return false, err
	}
	if cur.ClusterID != id {
		return false, ErrWrongCluster
	}
	k, err := recordKEK(dataDir, cur, keep)
	if err != nil {
		return false, err
	}
	defer k.close()
	old, err := k.unwrap(cur.WrappedRoot, rootAAD(cur))
	clear(old)
	if err != nil {
		return false, fmt.Errorf("%w (%s method)", ErrRecordMismatch, cur.Method)
	}
	next := *cur
	next.raw, next.RootEpoch = nil, epoch
	if next.WrappedRoot, err = k.wrap(root, rootAAD(&next)); err != nil {
		return false, err
	}
	check, err := k.unwrap(next.WrappedRoot, rootAAD(&next))
	ok := err == nil && subtle.ConstantTimeCompare(check, root) == 1
	clear(check)
	if !ok {
		return false, fmt.Errorf("%w: the new record does not open with the key that wrote it", ErrRecordMismatch)
	}
	raw, err := next.bytes()
	if err != nil {
		return false, err
	}
	if err := writeReplace(filepath.Join(dataDir, recordFile), raw); err != nil {
		return false, err
	}
	next.raw = raw
	b.mu.Lock()
	if b.clusterID == id && b.rs.epoch == epoch && subtle.ConstantTimeCompare(b.root, root) == 1 {
		b.record = raw
		b.rs.recorded(&next, nil)
	}
	b.mu.Unlock()
	return true, nil
}

// recordKEK rebuilds the unseal key of rec from what the barrier retained.
func recordKEK(dataDir string, rec *Record, keep []byte) (kek, error) {
	switch rec.Method {
	case MethodFile:
		key, err := readUnsealKey(filepath.Join(dataDir, unsealKeyFile))
		if err != nil {
			return nil, err
		}
		return newAESKEK(key)
	case MethodPassphrase, MethodShamir:
		if len(keep) != keySize {
			return nil, ErrNoUnsealKey
		}
		return newAESKEK(slices.Clone(keep))
	case MethodPKCS11:
		if len(keep) == 0 {
			return nil, ErrNoUnsealKey
		}
		p := rec.PKCS11
		return openHSMKey(PKCS11Options{Module: p.Module, TokenLabel: p.TokenLabel, Slot: p.Slot, KeyLabel: p.KeyLabel, PIN: string(keep)}, p.KeyID)
	}
	return nil, fmt.Errorf("%w: unknown method %q", ErrBadRecord, rec.Method)
}

// writeReplace replaces path with data (mode 0600) atomically and durably.
func writeReplace(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".seal-*")
	if err != nil {
		return fmt.Errorf("seal: write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}()
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
		err = os.Rename(tmp.Name(), path)
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
