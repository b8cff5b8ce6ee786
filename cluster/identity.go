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

// ErrNotMember refuses a peer whose certificate names a node that is not a
// member of the cluster.
var ErrNotMember = errors.New("cluster: peer is not a member of this cluster")

// peerNodeID returns the node id of a verified TLS peer whose chain ends at
// one of anchors (any verified chain when anchors is empty: the listener's
// own ClientCAs are the node CA alone).
func peerNodeID(cs tls.ConnectionState, anchors []*x509.Certificate) (string, bool) {
	for _, chain := range cs.VerifiedChains {
		if len(chain) == 0 || !endsAt(chain, anchors) {
			continue
		}
		return NodeIDFromCert(chain[0])
	}
	return "", false
}

func endsAt(chain []*x509.Certificate, anchors []*x509.Certificate) bool {
	if len(anchors) == 0 {
		return true
	}
	root := chain[len(chain)-1]
	for _, a := range anchors {
		if root.Equal(a) {
			return true
		}
	}
	return false
}

// isMember reports whether id is a server of the current Raft configuration
// or, on a node that joined but has no configuration yet, one of the peers
// the join named.
func (n *Node) isMember(id string) bool {
	if r := n.raftp.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil && len(f.Configuration().Servers) > 0 {
			for _, s := range f.Configuration().Servers {
				if string(s.ID) == id {
					return true
				}
			}
			return false
		}
	}
	n.expectMu.RLock()
	defer n.expectMu.RUnlock()
	return n.expected[id]
}

// memberAt returns the id of the member whose Raft address is addr.
func (n *Node) memberAt(addr string) (string, bool) {
	if r := n.raftp.Load(); r != nil {
		if f := r.GetConfiguration(); f.Error() == nil {
			for _, s := range f.Configuration().Servers {
				if string(s.Address) == addr {
					return string(s.ID), true
				}
			}
		}
	}
	for _, p := range n.peers.all() {
		if p.RaftAddr == addr && n.isMember(p.ID) {
			return p.ID, true
		}
	}
	return "", false
}

// expect records the servers a join response named, so that their Raft
// connections are accepted before the configuration arrives.
func (n *Node) expect(ids []string) {
	n.expectMu.Lock()
	defer n.expectMu.Unlock()
	for _, id := range ids {
		n.expected[id] = true
	}
}

// admitsServer accepts the node that a gRPC connection reaches: a member,
// or any node while this node has not joined a cluster yet (it is dialing
// the member it joins through).
func (n *Node) admitsServer(id string) bool {
	if !n.hasConfiguration() {
		return true
	}
	return n.isMember(id)
}
