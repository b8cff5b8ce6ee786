package policy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrNoIdentity reports a client certificate without a name to know it by.
var ErrNoIdentity = errors.New("policy: client certificate carries no usable identity")

// shortCA is how many hex digits of the CA fingerprint an identity's string
// form carries (128 bits).
const shortCA = 32

// Identity is who a client is: the CA that issued its certificate and the
// names the certificate carries. Two CAs that both issue "CN=alice" give two
// identities.
type Identity struct {
	// CA is the lower-case hex SHA-256 fingerprint of the certificate that
	// issued the client's certificate. It is empty only for callers inside
	// the process (tests, tools), whose identity is a bare name.
	CA         string
	CommonName string
	DNS        []string
	Email      []string
	URI        []string
}

// FromChain returns the identity of a verified certificate chain, leaf
// first. A leaf that is itself a trust anchor is its own issuer.
func FromChain(chain []*x509.Certificate) (Identity, error) {
	if len(chain) == 0 || chain[0] == nil {
		return Identity{}, ErrNoIdentity
	}
	leaf, issuer := chain[0], chain[0]
	if len(chain) > 1 {
		issuer = chain[1]
	}
	id := Identity{CA: Fingerprint(issuer), CommonName: leaf.Subject.CommonName, DNS: leaf.DNSNames, Email: leaf.EmailAddresses}
	for _, u := range leaf.URIs {
		id.URI = append(id.URI, u.String())
	}
	if _, name := id.primary(); name == "" {
		return Identity{}, ErrNoIdentity
	}
	return id, nil
}

// Fingerprint is the lower-case hex SHA-256 of a certificate.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Named is the identity of an in-process caller known by name alone.
func Named(name string) Identity { return Identity{CommonName: name} }

// primary is the name an identity is shown and keyed by: the Common Name,
// else the first DNS, e-mail or URI subject alternative name.
func (id Identity) primary() (kind, name string) {
	switch {
	case id.CommonName != "":
		return "cn", id.CommonName
	case len(id.DNS) > 0:
		return "dns", id.DNS[0]
	case len(id.Email) > 0:
		return "email", id.Email[0]
	case len(id.URI) > 0:
		return "uri", id.URI[0]
	}
	return "", ""
}

// String is the identity's canonical form, "<kind>:<name>@<CA>" with the
// first 32 hex digits of the CA fingerprint, for example
// "cn:alice@9f86d081884c7d659a2feaa0c55ad015". It names the identity in
// logs, audit lines and object records; an identity without a CA is its
// bare name.
func (id Identity) String() string {
	kind, name := id.primary()
	if id.CA == "" {
		return name
	}
	ca := id.CA
	if len(ca) > shortCA {
		ca = ca[:shortCA]
	}
	var b strings.Builder
	b.Grow(len(kind) + len(name) + len(ca) + 2)
	b.WriteString(kind)
	b.WriteByte(':')
	b.WriteString(name)
	b.WriteByte('@')
	b.WriteString(ca)
	return b.String()
}
