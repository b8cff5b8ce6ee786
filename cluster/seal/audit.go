package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// AuditKeyVersion returns the data key version that new audit lines are
// authenticated under: the newest in the keyring.
func (b *Barrier) AuditKeyVersion() (uint32, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return 0, ErrSealed
	}
	version, _, ok := b.src.LatestDataKey()
	if !ok || version == 0 {
		return 0, ErrNoDataKey
	}
	return version, nil
}

// AuditMAC returns HMAC-SHA256(k, data), where k is HKDF-SHA256(data key
// version, salt none, info "kmsd audit v1" + cluster id): the MAC of an
// audit line. The key never leaves the barrier. Like OpenObject it asks the
// keyring for version on every call, so a retired version fails with
// ErrUnknownKeyVersion.
func (b *Barrier) AuditMAC(version uint32, data []byte) ([]byte, error) {
	if version == 0 {
		return nil, fmt.Errorf("%w: data key version 0 is reserved", ErrUnknownKeyVersion)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, ErrSealed
	}
	sealed, ok := b.src.DataKey(version)
	if !ok {
		b.evict(version)
		return nil, fmt.Errorf("%w (version %d)", ErrUnknownKeyVersion, version)
	}
	e, err := b.dataKey(version, sealed)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, e.audit)
	m.Write(data)
	return m.Sum(nil), nil
}
