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

// Keyring seals and opens key material with the data key.
type Keyring struct {
	aead cipher.AEAD
}

// NewKeyring returns a keyring for a 32-byte AES-256 data key.
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("cluster: data key must be %d bytes, got %d", dataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead}, nil
}

// LoadOrCreateKeyring reads the node key file at path, creating it (mode
// 0600, 32 random bytes) when it does not exist yet.
func LoadOrCreateKeyring(path string) (*Keyring, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(path)
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
	return NewKeyring(key)
}

func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, dataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
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
	// Link fails if another process created the file first; then use theirs.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return key, nil
}

func aad(id string) []byte {
	return append([]byte("kmsd/v1/object:"), id...)
}

// Seal encrypts plaintext for the object id: version byte, nonce, ciphertext.
func (k *Keyring) Seal(id string, plaintext []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+k.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[1:], plaintext, aad(id)), nil
}

// Open decrypts what Seal produced for the same object id.
func (k *Keyring) Open(id string, sealed []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < 1+ns+k.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrSealedData
	}
	pt, err := k.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad(id))
	if err != nil {
		return nil, ErrSealedData
	}
	return pt, nil
}
