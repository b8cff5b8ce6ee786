package kmip

import (
	"testing"
	"time"

	"github.com/kmsd/kmsd/kmip/policy"
)

// TestCredentialCache: a password that verified is remembered until
// credentialTTL, a wrong one never is, and the cache is bounded.
func TestCredentialCache(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	c := newCredentialCache(func() time.Time { return now })
	hash, err := policy.HashPassword("password1")
	if err != nil {
		t.Fatal(err)
	}
	if c.verify(hash, "wrong") || len(c.seen) != 0 {
		t.Fatalf("a wrong password verified or was remembered (%d)", len(c.seen))
	}
	if !c.verify(hash, "password1") || len(c.seen) != 1 {
		t.Fatalf("the right password did not verify or was not remembered (%d)", len(c.seen))
	}
	var exp time.Time
	for _, e := range c.seen {
		exp = e
	}
	if !exp.Equal(now.Add(credentialTTL)) {
		t.Errorf("remembered until %v, want %v", exp, now.Add(credentialTTL))
	}
	if c.verify(hash, "password2") {
		t.Error("a remembered password makes another one verify")
	}
	now = now.Add(credentialTTL + time.Second)
	if !c.verify(hash, "password1") {
		t.Fatal("the password no longer verifies after its entry expired")
	}
	for _, e := range c.seen {
		if !e.Equal(now.Add(credentialTTL)) {
			t.Errorf("an expired entry was not renewed: %v", e)
		}
	}
	clear(c.seen)
	for i := range maxCachedCredential {
		c.seen[[32]byte{byte(i), byte(i >> 8), 1}] = now.Add(credentialTTL)
	}
	if !c.verify(hash, "password1") || len(c.seen) > maxCachedCredential {
		t.Errorf("the cache holds %d entries, the bound is %d", len(c.seen), maxCachedCredential)
	}
}
