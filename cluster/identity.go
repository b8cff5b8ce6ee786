package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// NodeURIPrefix starts the URI SAN that names a node's id in its
// certificate: "urn:kmsd:node:<id>".
const NodeURIPrefix = "urn:kmsd:node:"

// ErrBadNodeID reports a node id that is empty, too long, or uses
// characters outside [A-Za-z0-9._-].
var ErrBadNodeID = errors.New("cluster: a node id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")

// ValidNodeID checks the form of a node id.
func ValidNodeID(id string) error {
	if id == "" || len(id) > 64 {
		return ErrBadNodeID
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return ErrBadNodeID
		}
	}
	return nil
}

// NodeURI is the URI SAN that names node id in its certificate.
func NodeURI(id string) *url.URL {
	u, _ := url.Parse(NodeURIPrefix + id)
	return u
}

// NodeIDFromCert returns the node id a node certificate names: the first URI
// SAN "urn:kmsd:node:<id>", or else the Common Name of a certificate with
// Organization NodeOrganization. ok is false for any other certificate.
func NodeIDFromCert(c *x509.Certificate) (id string, ok bool) {
	if c == nil {
		return "", false
	}
	for _, u := range c.URIs {
		if s := u.String(); strings.HasPrefix(s, NodeURIPrefix) {
			id = strings.TrimPrefix(s, NodeURIPrefix)
			return id, ValidNodeID(id) == nil
		}
	}
	if slices.Contains(c.Subject.Organization, NodeOrganization) && ValidNodeID(c.Subject.CommonName) == nil {
		return c.Subject.CommonName, true
	}
	return "", false
}

// CertificateNodeID reads the node id from the first certificate of a
// certificate chain, as loaded for this node's own TLS configuration.
func CertificateNodeID(cert tls.Certificate) (string, error) {
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return "", errors.New("cluster: node certificate is empty")
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "", fmt.Errorf("cluster: node certificate: %w", err)
		}
	}
	id, ok := NodeIDFromCert(leaf)
	if !ok {
		return "", fmt.Errorf("cluster: the node certificate %q names no node id: it needs a URI SAN %s<id> or Organization %s with the id as Common Name",
			leaf.Subject.String(), NodeURIPrefix, NodeOrganization)
	}
	return id, nil
}
