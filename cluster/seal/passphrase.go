package seal

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// The passphrase method derives the unseal key with Argon2id from an
// operator's passphrase and a random salt kept in the record.

const (
	minPassphrase = 8
	saltSize      = 16

	defaultArgonTime    = 3
	defaultArgonMemory  = 64 << 10 // KiB: 64 MiB
	defaultArgonThreads = 4

	maxArgonTime   = 64
	maxArgonMemory = 4 << 20 // KiB: 4 GiB, so a tampered record cannot exhaust memory
)

// Argon2Params are the Argon2id cost parameters. Zero fields take the
// defaults: time 3, 64 MiB, 4 threads.
type Argon2Params struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// PassphraseParams are the public parameters of a passphrase record.
type PassphraseParams struct {
	Salt []byte `json:"salt"` // 16 random bytes, base64
	Argon2Params
}

func (p Argon2Params) withDefaults() Argon2Params {
	if p.Time == 0 {
		p.Time = defaultArgonTime
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = defaultArgonMemory
	}
	if p.Threads == 0 {
		p.Threads = defaultArgonThreads
	}
	return p
}

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxArgonTime:
		return fmt.Errorf("argon2 time %d is outside 1..%d", p.Time, maxArgonTime)
	case p.Threads < 1:
		return fmt.Errorf("argon2 needs at least one thread")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgonMemory:
		return fmt.Errorf("argon2 memory %d KiB is outside %d..%d KiB", p.MemoryKiB, 8*uint32(p.Threads), maxArgonMemory)
	}
	return nil
}

// passphraseKEK derives the unseal key. The caller keeps pass.
func passphraseKEK(p *PassphraseParams, pass []byte) (*aesKEK, error) {
	return newAESKEK(argon2.IDKey(pass, p.Salt, p.Time, p.MemoryKiB, p.Threads, keySize))
}

type passphraseMethod struct{}

func (passphraseMethod) create(_ string, rec *Record, opts InitOptions) (created, error) {
	if len(opts.Passphrase) < minPassphrase {
		return created{}, ErrWeakPassphrase
	}
	a := opts.Argon2.withDefaults()
	if err := a.validate(); err != nil {
		return created{}, fmt.Errorf("%w: %v", ErrBadOptions, err)
	}
	p := &PassphraseParams{Salt: make([]byte, saltSize), Argon2Params: a}
	randRead(p.Salt)
	k, err := passphraseKEK(p, opts.Passphrase)
	if err != nil {
		return created{}, err
	}
	rec.Passphrase = p
	return created{kek: k}, nil
}

func (passphraseMethod) check(rec *Record) error {
	p := rec.Passphrase
	if p == nil {
		return fmt.Errorf("%w: passphrase record without parameters", ErrBadRecord)
	}
	if len(p.Salt) != saltSize {
		return fmt.Errorf("%w: salt is %d bytes, want %d", ErrBadRecord, len(p.Salt), saltSize)
	}
	if err := p.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return nil
}

// UnsealPassphrase unseals the barrier from <dataDir>/seal.json with the
// passphrase. A wrong passphrase fails with ErrWrongPassphrase and changes
// nothing. The caller owns pass and should clear it.
func (b *Barrier) UnsealPassphrase(dataDir string, pass []byte) error {
	rec, err := b.loadRecord(dataDir, MethodPassphrase)
	if err != nil {
		return err
	}
	k, err := passphraseKEK(rec.Passphrase, pass)
	if err != nil {
		return err
	}
	defer k.close()
	return b.unsealRecord(rec, k, ErrWrongPassphrase, k.key)
}
