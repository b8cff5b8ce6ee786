package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Sealing errors.
var (
	ErrSealedData  = errors.New("cluster: sealed data is corrupt or bound to another object")
	ErrKeyFileMode = errors.New("cluster: node key file is readable by group or others")
)

const (
	sealVersion = 1
	dataKeySize = 32
)

// Keyring seals and opens key material with the cluster's data key. A node
// that joins a cluster adopts the cluster's key before it stores anything.
type Keyring struct {
	path string // key file; empty for an in-memory keyring

	mu   sync.RWMutex
	key  []byte
	aead cipher.AEAD
}

// NewKeyring returns an in-memory keyring for a 32-byte AES-256 data key.
func NewKeyring(key []byte) (*Keyring, error) {
	k := &Keyring{}
	if err := k.set(key); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) set(key []byte) error {
	if len(key) != dataKeySize {
		return fmt.Errorf("cluster: data key must be %d bytes, got %d", dataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.key, k.aead = slices.Clone(key), aead
	k.mu.Unlock()
	return nil
}

// LoadOrCreateKeyring reads the node key file at path, creating it (mode
// 0600, 32 random bytes) when it does not exist yet.
func LoadOrCreateKeyring(path string) (*Keyring, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, dataKeySize)
		if _, err = rand.Read(key); err == nil {
			key, err = writeKeyFile(path, key, false)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: node key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: node key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v, want 0600", ErrKeyFileMode, path, st.Mode().Perm())
	}
	k := &Keyring{path: path}
	if err := k.set(key); err != nil {
		return nil, err
	}
	return k, nil
}

// writeKeyFile writes key atomically with mode 0600. Without replace, a file
// created meanwhile by another process wins and its key is returned.
func writeKeyFile(path string, key []byte, replace bool) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".node-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if replace {
		return key, os.Rename(tmp.Name(), path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return key, nil
}

// Adopt replaces the data key with the cluster's and saves it. Only a node
// that has sealed nothing yet may adopt another key.
func (k *Keyring) Adopt(key []byte) error {
	k.mu.RLock()
	same := slices.Equal(k.key, key)
	k.mu.RUnlock()
	if same {
		return nil
	}
	if k.path != "" {
		if _, err := writeKeyFile(k.path, key, true); err != nil {
			return fmt.Errorf("cluster: save data key: %w", err)
		}
	}
	return k.set(key)
}

// dataKey returns a copy of the data key, for a joining node.
func (k *Keyring) dataKey() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Clone(k.key)
}

func aad(id string) []byte {
	return append([]byte("kmsd/v1/object:"), id...)
}

// Seal encrypts plaintext for the object id: version byte, nonce, ciphertext.
func (k *Keyring) Seal(id string, plaintext []byte) ([]byte, error) {
	k.mu.RLock()
	aead := k.aead
	k.mu.RUnlock()
	ns := aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], plaintext, aad(id)), nil
}

// Open decrypts what Seal produced for the same object id.
func (k *Keyring) Open(id string, sealed []byte) ([]byte, error) {
	k.mu.RLock()
	aead := k.aead
	k.mu.RUnlock()
	ns := aead.NonceSize()
	if len(sealed) < 1+ns+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrSealedData
	}
	pt, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad(id))
	if err != nil {
		return nil, ErrSealedData
	}
	return pt, nil
}
