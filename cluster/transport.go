package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// NodeOrganization is the certificate Organization that marks a cluster
// node; Raft, gossip joins and the node-to-node service accept only it.
const NodeOrganization = "kmsd-nodes"

var errNotANode = errors.New("cluster: peer certificate is not a cluster node's")

// HasOrganization reports whether the verified leaf certificate of a TLS
// connection carries the given Organization.
func HasOrganization(cs tls.ConnectionState, org string) bool {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return false
	}
	return slices.Contains(cs.VerifiedChains[0][0].Subject.Organization, org)
}

// nodeOnly returns a copy of cfg that also requires the peer to be a node.
func nodeOnly(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if !HasOrganization(cs, NodeOrganization) {
			return errNotANode
		}
		return nil
	}
	return c
}

// tlsStreamLayer carries Raft traffic over mutual TLS between nodes.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	client    *tls.Config
}

func newTLSStreamLayer(bind string, server, client *tls.Config) (*tlsStreamLayer, error) {
	if server == nil || client == nil {
		return nil, errors.New("cluster: node TLS configuration is required")
	}
	if server.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, errors.New("cluster: node TLS must require and verify client certificates")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: raft listener: %w", err)
	}
	return &tlsStreamLayer{
		Listener:  tls.NewListener(ln, nodeOnly(server)),
		advertise: ln.Addr(),
		client:    nodeOnly(client),
	}, nil
}

func (t *tlsStreamLayer) Addr() net.Addr { return t.advertise }

// Dial connects to another node's Raft port and completes the handshake, so
// that a peer that is not a node fails here rather than mid-stream.
func (t *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	cfg := t.client.Clone()
	if host, _, err := net.SplitHostPort(string(address)); err == nil && cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", string(address), cfg)
	if err != nil {
		return nil, err
	}
	return conn, nil
}
