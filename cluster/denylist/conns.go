package denylist

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"sync"
)

// Conns tracks open TLS connections with their peers' verified chains, so
// that those a new deny list refuses can be closed. The zero value is ready.
type Conns struct {
	mu    sync.Mutex
	conns map[*tracked]struct{}
}

type tracked struct {
	conn   net.Conn
	chains [][]*x509.Certificate
	what   string // which port, for logs
}

// Track records an open connection whose handshake gave cs; what names the
// port in logs. Call the returned function when the connection closes.
func (t *Conns) Track(c net.Conn, cs tls.ConnectionState, what string) (untrack func()) {
	e := &tracked{conn: c, chains: chainsOf(cs), what: what}
	t.mu.Lock()
	if t.conns == nil {
		t.conns = map[*tracked]struct{}{}
	}
	t.conns[e] = struct{}{}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.conns, e)
		t.mu.Unlock()
	}
}

// Len is the number of tracked connections.
func (t *Conns) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// CloseRevoked closes and forgets every tracked connection whose chains l
// refuses, and returns how many it closed.
func (t *Conns) CloseRevoked(l *List, logger *slog.Logger) int {
	if l.Len() == 0 {
		return 0
	}
	var hit []*tracked
	t.mu.Lock()
	for e := range t.conns {
		if _, ok := l.Hit(e.chains); ok {
			hit = append(hit, e)
			delete(t.conns, e)
		}
	}
	t.mu.Unlock()
	for _, e := range hit {
		subject := ""
		if len(e.chains) > 0 && len(e.chains[0]) > 0 {
			subject = e.chains[0][0].Subject.String()
		}
		if logger != nil {
			logger.Warn("closing a connection whose certificate was revoked", "port", e.what,
				"remote", e.conn.RemoteAddr().String(), "subject", subject)
		}
		_ = e.conn.Close()
	}
	return len(hit)
}

// Source is where a Watcher reads the deny list: the entries now and a
// channel closed when they may have changed.
type Source func() (entries []Entry, changed <-chan struct{})

// Watch keeps checker's list equal to src's and closes the connections of
// conns that each new list refuses, until ctx ends. A send on kick wakes
// it when the source itself is replaced (a node's state machine is made
// anew on each unseal); kick may be nil. While src returns nil the list in
// use is kept. onList, when set, sees each new list after it is in use.
func Watch(ctx context.Context, src func() Source, kick <-chan struct{}, checker *Checker, logger *slog.Logger, onList func(*List), conns ...*Conns) {
	for {
		var changed <-chan struct{}
		if s := src(); s != nil {
			entries, ch := s()
			changed = ch
			l := NewList(entries)
			checker.Set(l)
			for _, c := range conns {
				c.CloseRevoked(l, logger)
			}
			if onList != nil {
				onList(l)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-kick:
		}
	}
}

// Admit tracks conn in t and checks it once more against the current
// list: a list that changed between the handshake's check and Track would
// otherwise miss the connection. ok false means conn is revoked and was
// not tracked; the caller closes it.
func (c *Checker) Admit(t *Conns, conn net.Conn, cs tls.ConnectionState, what string) (untrack func(), ok bool) {
	untrack = t.Track(conn, cs, what)
	if c.Check(cs) != nil {
		untrack()
		return func() {}, false
	}
	return untrack, true
}
