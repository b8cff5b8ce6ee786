package policy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrBadCredential reports a KMIP Credential that no binding of the
// identity accepts.
var ErrBadCredential = errors.New("policy: credential not accepted")

// Credential is what a request header's KMIP Credential says: a Username
// and Password, or a Device credential named by its Device Identifier.
type Credential struct {
	Username string
	Device   string
	Password string
}

// Verifier checks a password against an Argon2id hash in PHC form. The
// KMIP service passes one that remembers recent successes.
type Verifier func(hash, password string) bool

// Argon2id parameters of new password hashes (HashPassword), and the bounds
// a stored hash must keep, so that no policy entry can make every request
// cost seconds.
const (
	argonMemoryKiB = 64 << 10
	argonTime      = 2
	argonThreads   = 2
	argonKeyLen    = 32
	argonSaltLen   = 16

	maxArgonMemoryKiB = 256 << 10
	maxArgonTime      = 10
	maxArgonThreads   = 16
	maxPasswordLen    = 1024
)

// argonHash is a parsed PHC string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseArgon2id(s string) (argonHash, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return argonHash{}, errors.New(`not an Argon2id hash "$argon2id$v=19$m=...,t=...,p=...$salt$hash"`)
	}
	var h argonHash
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return argonHash{}, errors.New("bad Argon2id parameters")
	}
	if h.memory < 8*uint32(h.threads) || h.memory > maxArgonMemoryKiB || h.time < 1 || h.time > maxArgonTime || h.threads < 1 || h.threads > maxArgonThreads {
		return argonHash{}, fmt.Errorf("Argon2id parameters out of bounds (memory up to %d KiB, time 1 to %d, threads 1 to %d)", maxArgonMemoryKiB, maxArgonTime, maxArgonThreads)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < argonSaltLen || len(h.salt) > 64 {
		return argonHash{}, fmt.Errorf("the Argon2id salt must be %d to 64 bytes of unpadded base64", argonSaltLen)
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return argonHash{}, errors.New("the Argon2id hash must be 16 to 64 bytes of unpadded base64")
	}
	return h, nil
}

// HashPassword returns the Argon2id hash of a password in PHC form, for a
// policy entry.
func HashPassword(password string) (string, error) {
	if password == "" || len(password) > maxPasswordLen {
		return "", fmt.Errorf("a password is 1 to %d bytes", maxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemoryKiB, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword checks password against a PHC Argon2id hash, in time that
// does not depend on where they differ.
func VerifyPassword(hash, password string) bool {
	h, err := parseArgon2id(hash)
	if err != nil || len(password) > maxPasswordLen {
		return false
	}
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// decoyHash is verified when a credential names nobody, so that an unknown
// name costs what a wrong password costs. It is made on first use.
var decoyHash = sync.OnceValue(func() string {
	h, err := HashPassword("kmsd decoy")
	if err != nil {
		panic(err)
	}
	return h
})

func checkCredential(c *kmsdpb.PolicyCredential) error {
	switch {
	case (c.GetUsername() == "") == (c.GetDeviceIdentifier() == ""):
		return fmt.Errorf("%w: a credential names a username or a device_identifier, not both", ErrInvalid)
	case len(c.GetUsername()) > maxMatchLen || len(c.GetDeviceIdentifier()) > maxMatchLen:
		return fmt.Errorf("%w: a credential name is longer than %d characters", ErrInvalid, maxMatchLen)
	}
	if _, err := parseArgon2id(c.GetPasswordArgon2Id()); err != nil {
		return fmt.Errorf("%w: credential %q: %v (kmsctl policy set hashes a \"password\" for you)", ErrInvalid,
			truncate(c.GetUsername()+c.GetDeviceIdentifier()), err)
	}
	return nil
}

// accepts finds the credential of the binding that names cred and checks
// its password.
func (b *binding) accepts(cred *Credential, verify Verifier) (named bool, ok bool) {
	for _, c := range b.creds {
		if (cred.Username != "" && c.GetUsername() == cred.Username) || (cred.Device != "" && c.GetDeviceIdentifier() == cred.Device) {
			return true, verify(c.GetPasswordArgon2Id(), cred.Password)
		}
	}
	return false, false
}

// ResolveWith is Resolve for a request that may carry a KMIP Credential.
// With a credential, the bindings of the identity that require one are
// tried first: the first that names it with the right password applies; if
// some require one and none accepts it, the request is refused
// (ErrBadCredential). A credential is ignored for an identity that no
// credential binding matches, and bindings that require one never apply
// without it.
func (p *Policy) ResolveWith(id Identity, cred *Credential, verify Verifier) (Principal, error) {
	if p == nil {
		return p.Resolve(id), nil
	}
	if cred != nil {
		required := false
		for i := range p.bindings {
			b := &p.bindings[i]
			if len(b.creds) == 0 || !b.matchesIdentity(id) {
				continue
			}
			required = true
			if named, ok := b.accepts(cred, verify); ok {
				return b.principal(id), nil
			} else if named {
				return Principal{}, ErrBadCredential
			}
		}
		if required {
			verify(decoyHash(), cred.Password)
			return Principal{}, ErrBadCredential
		}
	}
	return p.Resolve(id), nil
}
