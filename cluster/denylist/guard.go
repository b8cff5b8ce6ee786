package denylist

import (
	"context"
	"crypto/tls"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
)

// Guard is a node's deny list at work: Checker refuses handshakes, Conns
// holds the open connections that a new list may cut off.
type Guard struct {
	Checker *Checker
	Conns   *Conns
}

// NewGuard returns a guard with an empty list.
func NewGuard() *Guard { return &Guard{Checker: &Checker{}, Conns: &Conns{}} }

// Check refuses a handshake whose chains hold a listed certificate; a nil
// guard refuses nothing.
func (g *Guard) Check(cs tls.ConnectionState) error {
	if g == nil {
		return nil
	}
	return g.Checker.Check(cs)
}

// Admit tracks an open connection (Checker.Admit); a nil guard admits
// every connection and tracks none.
func (g *Guard) Admit(c net.Conn, cs tls.ConnectionState, what string) (untrack func(), ok bool) {
	if g == nil {
		return func() {}, true
	}
	return g.Checker.Admit(g.Conns, c, cs, what)
}

// TLS returns a copy of cfg whose handshakes also pass Check.
func (g *Guard) TLS(cfg *tls.Config) *tls.Config {
	if g == nil {
		return cfg
	}
	return g.Checker.Guard(cfg)
}

// Credentials wraps gRPC TLS credentials: each connection they hand
// over is admitted and tracked until it closes.
func (g *Guard) Credentials(creds credentials.TransportCredentials, what string) credentials.TransportCredentials {
	if g == nil {
		return creds
	}
	return &guardedCreds{TransportCredentials: creds, g: g, what: what}
}

type guardedCreds struct {
	credentials.TransportCredentials
	g    *Guard
	what string
}

func (c *guardedCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.admit(c.TransportCredentials.ServerHandshake(raw))
}

func (c *guardedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.admit(c.TransportCredentials.ClientHandshake(ctx, authority, raw))
}

func (c *guardedCreds) admit(conn net.Conn, info credentials.AuthInfo, err error) (net.Conn, credentials.AuthInfo, error) {
	if err != nil {
		return conn, info, err
	}
	ti, ok := info.(credentials.TLSInfo)
	if !ok {
		conn.Close()
		return nil, nil, ErrRevoked
	}
	untrack, ok := c.g.Admit(conn, ti.State, c.what)
	if !ok {
		conn.Close()
		return nil, nil, ErrRevoked
	}
	return &untrackOnClose{Conn: conn, untrack: untrack}, info, nil
}

func (c *guardedCreds) Clone() credentials.TransportCredentials {
	return &guardedCreds{TransportCredentials: c.TransportCredentials.Clone(), g: c.g, what: c.what}
}

// untrackOnClose forgets a tracked connection when it closes.
type untrackOnClose struct {
	net.Conn
	once    sync.Once
	untrack func()
}

func (c *untrackOnClose) Close() error {
	c.once.Do(c.untrack)
	return c.Conn.Close()
}
