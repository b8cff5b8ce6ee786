package denylist

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync/atomic"
)

// ErrRevoked refuses a handshake whose verified chain holds a certificate
// of the deny list.
var ErrRevoked = errors.New("denylist: certificate revoked")

// List is an immutable set of entries, indexed for handshakes.
type List struct {
	byKey map[string]Entry
}

// NewList indexes entries; entries with one key are kept once.
func NewList(entries []Entry) *List {
	l := &List{byKey: make(map[string]Entry, len(entries))}
	for _, e := range entries {
		l.byKey[e.Key()] = e
	}
	return l
}

// Len is the number of entries.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.byKey)
}

// Hit returns the entry that names a certificate of chains, if any. Every
// certificate of every chain is looked up, by fingerprint and by its
// issuer (the next certificate of the chain; a self-signed last one is its
// own issuer) and serial number.
func (l *List) Hit(chains [][]*x509.Certificate) (Entry, bool) {
	if l.Len() == 0 {
		return Entry{}, false
	}
	for _, chain := range chains {
		for i, c := range chain {
			if e, ok := l.byKey["sha256:"+hexFP(c)]; ok {
				return e, true
			}
			issuer := c
			if i+1 < len(chain) {
				issuer = chain[i+1]
			}
			if e, ok := l.byKey[serialKey(Fingerprint(issuer), SerialBytes(c.SerialNumber))]; ok {
				return e, true
			}
		}
	}
	return Entry{}, false
}

func hexFP(c *x509.Certificate) string {
	return Entry{Fingerprint: Fingerprint(c)}.Key()[len("sha256:"):]
}

// Checker holds the current list for the TLS layers. The zero value
// refuses nothing.
type Checker struct {
	list atomic.Pointer[List]
}

// Set replaces the list.
func (c *Checker) Set(l *List) { c.list.Store(l) }

// List returns the current list (nil before the first Set).
func (c *Checker) List() *List { return c.list.Load() }

// Check refuses a connection whose verified chains hold a listed
// certificate.
func (c *Checker) Check(cs tls.ConnectionState) error {
	if _, hit := c.list.Load().Hit(chainsOf(cs)); hit {
		return ErrRevoked
	}
	return nil
}

// chainsOf is the verified chains of a connection, or, on a client whose
// verification is done elsewhere, the presented certificates.
func chainsOf(cs tls.ConnectionState) [][]*x509.Certificate {
	if len(cs.VerifiedChains) > 0 {
		return cs.VerifiedChains
	}
	if len(cs.PeerCertificates) > 0 {
		return [][]*x509.Certificate{cs.PeerCertificates}
	}
	return nil
}

// Chain returns a copy of cfg whose handshakes pass cfg's own
// VerifyConnection and then check. A configuration chosen per client
// (GetConfigForClient) is chained too: crypto/tls uses that one instead.
func Chain(cfg *tls.Config, check func(tls.ConnectionState) error) *tls.Config {
	out := cfg.Clone()
	prev := out.VerifyConnection
	out.VerifyConnection = func(cs tls.ConnectionState) error {
		if prev != nil {
			if err := prev(cs); err != nil {
				return err
			}
		}
		return check(cs)
	}
	if get := out.GetConfigForClient; get != nil {
		out.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			inner, err := get(hello)
			if err != nil || inner == nil {
				return inner, err
			}
			return Chain(inner, check), nil
		}
	}
	return out
}

// Guard returns a copy of cfg whose handshakes also pass c.Check.
func (c *Checker) Guard(cfg *tls.Config) *tls.Config { return Chain(cfg, c.Check) }
