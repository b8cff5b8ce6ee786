package seal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The file method keeps the unseal key, 32 random bytes, next to seal.json in
// <dataDir>/unseal.key (mode 0600). It unseals with no input: it protects
// against a copy of the Raft log or a snapshot, not against a copy of the
// whole data folder. It is the dev default.

const unsealKeyFile = "unseal.key"

type fileMethod struct{}

func (fileMethod) create(dataDir string, rec *Record, _ InitOptions) (created, error) {
	path := filepath.Join(dataDir, unsealKeyFile)
	if _, err := os.Lstat(path); err == nil {
		return created{}, fmt.Errorf("%w (%s)", ErrStaleUnsealKey, path)
	}
	key := make([]byte, keySize)
	randRead(key)
	if err := writeNew(path, key); err != nil {
		clear(key)
		if errors.Is(err, ErrAlreadyInitialized) {
			return created{}, fmt.Errorf("%w (%s)", ErrStaleUnsealKey, path)
		}
		return created{}, err
	}
	k, err := newAESKEK(key)
	if err != nil {
		os.Remove(path)
		return created{}, err
	}
	return created{kek: k, undo: func() { os.Remove(path) }}, nil
}

func (fileMethod) check(*Record) error { return nil }

// UnsealFile unseals the barrier from <dataDir>/seal.json and
// <dataDir>/unseal.key. It refuses an unseal.key that group or others can
// read.
func (b *Barrier) UnsealFile(dataDir string) error {
	rec, err := b.loadRecord(dataDir, MethodFile)
	if err != nil {
		return err
	}
	key, err := readUnsealKey(filepath.Join(dataDir, unsealKeyFile))
	if err != nil {
		return err
	}
	k, err := newAESKEK(key)
	if err != nil {
		return err
	}
	defer k.close()
	return b.unsealRecord(rec, k, ErrWrongUnsealKey, nil)
}

func readUnsealKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: unseal key: %w; restore the unseal.key made together with seal.json", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: unseal key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: unseal key: %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w (%s has mode %04o: chmod 600 %s)", ErrKeyFileMode, path, st.Mode().Perm(), path)
	}
	key := make([]byte, keySize+1)
	n, err := io.ReadFull(f, key)
	if err != io.ErrUnexpectedEOF || n != keySize {
		clear(key)
		return nil, fmt.Errorf("%w (%s is not %d bytes)", ErrWrongUnsealKey, path, keySize)
	}
	return key[:keySize], nil
}
