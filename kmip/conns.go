package kmip

import (
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// ServerStats counts a server's connections.
type ServerStats struct {
	Open int // connections open now, handshakes included
	// RefusedConns counts connections closed at accept because MaxConns
	// were open.
	RefusedConns uint64
	// RefusedClientConns counts connections closed after the handshake
	// because their identity had MaxConnsPerClient open.
	RefusedClientConns uint64
}

// Stats returns the connection counts.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	open := len(s.conns)
	s.mu.Unlock()
	return ServerStats{Open: open, RefusedConns: s.refused.total.Load(), RefusedClientConns: s.refused.perClient.Load()}
}

// admit tracks a new connection, unless the server is closing or MaxConns
// are open.
func (s *Server) admit(c net.Conn) bool {
	s.mu.Lock()
	full := len(s.conns) >= s.cfg.MaxConns
	ok := !s.closing && !full
	if ok {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	if full {
		s.refused.conn(s.logger, c, s.cfg.MaxConns)
	}
	return ok
}

func (s *Server) forget(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// admitClient counts a connection of identity id, unless it has
// MaxConnsPerClient open.
func (s *Server) admitClient(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perClient[id] >= s.cfg.MaxConnsPerClient {
		return false
	}
	s.perClient[id]++
	return true
}

func (s *Server) forgetClient(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perClient[id]--; s.perClient[id] <= 0 {
		delete(s.perClient, id)
	}
}

// refusals counts refused connections and logs them at most once a
// second, so that a flood of connections is not also a flood of log lines.
type refusals struct {
	total, perClient atomic.Uint64
	lastLog          atomic.Int64 // unix nanoseconds
}

func (r *refusals) conn(logger *slog.Logger, c net.Conn, limit int) {
	n := r.total.Add(1)
	if r.mayLog() {
		logger.Warn("connection refused: too many connections", "remote", c.RemoteAddr().String(), "limit", limit, "refused_total", n)
	}
}

func (r *refusals) client(logger *slog.Logger, limit int) {
	n := r.perClient.Add(1)
	if r.mayLog() {
		logger.Warn("connection refused: too many connections of this client", "limit", limit, "refused_total", n)
	}
}

func (r *refusals) mayLog() bool {
	now := time.Now().UnixNano()
	last := r.lastLog.Load()
	return now-last >= int64(time.Second) && r.lastLog.CompareAndSwap(last, now)
}
