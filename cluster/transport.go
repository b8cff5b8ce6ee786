package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/denylist"
)

// NodeOrganization is the certificate Organization of a cluster node's
// certificate when its id is its Common Name.
const NodeOrganization = "kmsd-nodes"

// HasOrganization reports whether the verified leaf certificate of a TLS
// connection carries the given Organization.
func HasOrganization(cs tls.ConnectionState, org string) bool {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return false
	}
	return slices.Contains(cs.VerifiedChains[0][0].Subject.Organization, org)
}

// tlsStreamLayer carries Raft traffic over mutual TLS between nodes. It
// accepts a peer only when its certificate names a member, and dials a peer
// only when the certificate it presents names the member at that address.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    net.Dialer // its LocalAddr is the node's own address, if it names one
	client    *tls.Config
	memberAt  func(addr string) (string, bool)
	anchors   []*x509.Certificate
	guard     *denylist.Guard
}

func newTLSStreamLayer(bind string, server, client *tls.Config, anchors []*x509.Certificate, handshake time.Duration, isMember func(string) bool, memberAt func(string) (string, bool), guard *denylist.Guard) (*tlsStreamLayer, error) {
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
	// The configuration's own checks (the deny list) come first.
	accept := denylist.Chain(guard.TLS(server), func(cs tls.ConnectionState) error {
		id, ok := peerNodeID(cs, anchors)
		if !ok {
			return errNotANode
		}
		if !isMember(id) {
			return fmt.Errorf("%w: %s", ErrNotMember, id)
		}
		return nil
	})
	return &tlsStreamLayer{
		Listener:  claimListener{Listener: tls.NewListener(ln, accept), anchors: anchors, handshake: handshake, guard: guard},
		advertise: ln.Addr(),
		dialer:    net.Dialer{LocalAddr: sourceAddr(bind)},
		client:    client,
		memberAt:  memberAt,
		anchors:   anchors,
		guard:     guard,
	}, nil
}

var errNotANode = errors.New("cluster: peer certificate names no node id")

func (t *tlsStreamLayer) Addr() net.Addr { return t.advertise }

// advertiseAs makes the layer announce addr (host:port) to its peers instead
// of the address it listens on: the address peers dial, through a NAT, a
// proxy or a Kubernetes Service.
func (t *tlsStreamLayer) advertiseAs(addr string) error {
	a, err := advertised(addr)
	if err != nil {
		return fmt.Errorf("cluster: raft %w", err)
	}
	t.advertise = a
	return nil
}

// CheckAdvertise reports whether addr can be advertised to peers: a host
// and a port that they can dial.
func CheckAdvertise(addr string) error {
	_, err := advertised(addr)
	return err
}

func advertised(addr string) (*net.TCPAddr, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("advertise address %q: %w", addr, err)
	}
	if a.IP == nil || a.IP.IsUnspecified() || a.Port == 0 {
		return nil, fmt.Errorf("advertise address %q must name a host and a port that peers can dial", addr)
	}
	return a, nil
}

// sourceAddr is the local address of the connections a node opens to its
// peers: the host of bind when it names one IP address, so that a node on
// a multi-homed host (or one of several nodes sharing a host, on their own
// addresses) reaches its peers from the address it serves on; nil (the
// system's choice) for a wildcard or a host name.
func sourceAddr(bind string) *net.TCPAddr {
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}

// Dial connects to another node's Raft port and completes the handshake, so
// that a peer that is not the member at that address fails here rather than
// mid-stream.
func (t *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	want, ok := t.memberAt(string(address))
	if !ok {
		return nil, fmt.Errorf("%w: no member at %s", ErrNotMember, address)
	}
	cfg := denylist.Chain(t.guard.TLS(t.client), func(cs tls.ConnectionState) error {
		id, ok := peerNodeID(cs, t.anchors)
		if !ok {
			return errNotANode
		}
		if id != want {
			return fmt.Errorf("%w: %s answered at the address of %s", ErrNotMember, id, want)
		}
		return nil
	})
	if host, _, err := net.SplitHostPort(string(address)); err == nil && cfg.ServerName == "" {
		cfg.ServerName = host
	}
	d := t.dialer
	d.Timeout = timeout
	conn, err := tls.DialWithDialer(&d, "tcp", string(address), cfg)
	if err != nil {
		return nil, err
	}
	untrack, ok := t.guard.Admit(conn, conn.ConnectionState(), "raft")
	if !ok {
		conn.Close()
		return nil, denylist.ErrRevoked
	}
	return &trackedConn{Conn: conn, untrack: untrack}, nil
}

// trackedConn is a Raft connection the deny-list guard tracks until it
// closes.
type trackedConn struct {
	net.Conn
	once    sync.Once
	untrack func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.untrack)
	return c.Conn.Close()
}
