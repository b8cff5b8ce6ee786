package kmip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"sync"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/policy"
)

// identityFrom returns the client's identity: the CA that issued its
// verified certificate and the names the certificate carries.
func identityFrom(st tls.ConnectionState) (policy.Identity, error) {
	if len(st.VerifiedChains) == 0 {
		return policy.Identity{}, policy.ErrNoIdentity
	}
	return policy.FromChain(st.VerifiedChains[0])
}

// PolicySource gives the current access policy (*fsm.FSM).
type PolicySource interface {
	Policy() (*policy.Policy, error)
}

// errPermissionDenied answers an operation or object type the client's
// role does not allow.
var errPermissionDenied = errorf(kmip.ResultReasonPermissionDenied, "not allowed for this client's role")

// principal resolves the identity and credential of a request message
// through the current policy. Without a policy source every identity is a
// tenant of its own with the role user.
func (s *Service) principal(id policy.Identity, cred *policy.Credential) (policy.Principal, error) {
	var p *policy.Policy
	if s.cfg.Policy != nil {
		var err error
		if p, err = s.cfg.Policy.Policy(); err != nil {
			return policy.Principal{}, err
		}
	}
	return p.ResolveWith(id, cred, s.creds.verify)
}

// allowType checks that the client's role may use objects of type t.
func (rc *reqCtx) allowType(t kmip.ObjectType) error {
	if !rc.role.AllowsType(t) {
		return errPermissionDenied
	}
	return nil
}

// errBadCredential answers every item of a request whose KMIP Credential
// the policy does not accept.
var errBadCredential = errorf(kmip.ResultReasonPermissionDenied, "credential not accepted")

// credentialOf returns the first Username and Password or Device credential
// of a request header, nil when it carries none.
func credentialOf(hdr kmip.RequestHeader) *policy.Credential {
	a := hdr.Authentication
	if a == nil {
		return nil
	}
	for _, c := range append([]kmip.Credential{a.Credential}, a.AdditionalCredential...) {
		switch v := c.CredentialValue; {
		case c.CredentialType == kmip.CredentialTypeUsernameAndPassword && v.UserPassword != nil:
			return &policy.Credential{Username: v.UserPassword.Username, Password: v.UserPassword.Password}
		case c.CredentialType == kmip.CredentialTypeDevice && v.Device != nil && v.Device.DeviceIdentifier != "":
			return &policy.Credential{Device: v.Device.DeviceIdentifier, Password: v.Device.Password}
		}
	}
	return nil
}

// Remembered password checks: a client that sends its credential with
// every request pays Argon2id once per credentialTTL.
const (
	credentialTTL       = 5 * time.Minute
	maxCachedCredential = 10000
)

// credentialCache remembers successful password checks by an HMAC, under
// a key of this process, of the stored hash and the password.
type credentialCache struct {
	key [32]byte
	now func() time.Time

	mu   sync.Mutex
	seen map[[32]byte]time.Time
}

func newCredentialCache(now func() time.Time) *credentialCache {
	c := &credentialCache{now: now, seen: map[[32]byte]time.Time{}}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic(err)
	}
	return c
}

func (c *credentialCache) verify(hash, password string) bool {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [32]byte
	m.Sum(k[:0])
	now := c.now()
	c.mu.Lock()
	exp, ok := c.seen[k]
	c.mu.Unlock()
	if ok && now.Before(exp) {
		return true
	}
	if !policy.VerifyPassword(hash, password) {
		return false
	}
	c.mu.Lock()
	if len(c.seen) >= maxCachedCredential {
		clear(c.seen)
	}
	c.seen[k] = now.Add(credentialTTL)
	c.mu.Unlock()
	return true
}
