package kmip

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/kmip/wire"
)

// ServerConfig bounds what a client connection may cost. Zero values get
// defaults.
type ServerConfig struct {
	TLS              *tls.Config   // must require and verify client certificates
	MaxMessageSize   int           // default 1 MiB
	HandshakeTimeout time.Duration // default 10s
	IdleTimeout      time.Duration // wait for the first byte of the next request; default 5m
	// ReadTimeout bounds the whole request: it must arrive completely
	// within this time of its first byte on the TCP connection, however
	// the client spreads its bytes; default 30s.
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration // write one response; default 30s
	RequestTimeout time.Duration // execute one request message; default 30s
	// MaxConns bounds the connections open at once, handshakes included;
	// one over it is closed as soon as it is accepted, before TLS.
	// Default 4096.
	MaxConns int
	// MaxConnsPerClient bounds one client identity's connections; one
	// over it is closed right after the handshake (a TLS close_notify),
	// before any request is read. Default 1024.
	MaxConnsPerClient int
	// Admit, when set, is called after each successful handshake with the
	// TCP connection: false closes it; otherwise release is called when
	// it closes. The node's certificate deny list tracks connections with
	// it, to close those whose certificate is revoked later.
	Admit  func(conn net.Conn, cs tls.ConnectionState) (release func(), ok bool)
	Logger *slog.Logger
}

// Default connection limits.
const (
	DefaultMaxConns          = 4096
	DefaultMaxConnsPerClient = 1024
)

func (c *ServerConfig) setDefaults() {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerClient <= 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server accepts KMIP connections over mutual TLS and hands each request
// message to the Service.
type Server struct {
	cfg    ServerConfig
	svc    *Service
	logger *slog.Logger

	// base is the parent of every request's context; Shutdown cancels it
	// once the grace period is over.
	base       context.Context
	cancelBase context.CancelFunc

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	perClient map[string]int // open connections by identity
	closing   bool
	inflight  sync.WaitGroup

	refused refusals
}

// NewServer returns a server for svc.
func NewServer(cfg ServerConfig, svc *Service) *Server {
	cfg.setDefaults()
	base, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, svc: svc, logger: cfg.Logger.With("component", "kmip"), conns: map[net.Conn]struct{}{}, perClient: map[string]int{}, base: base, cancelBase: cancel}
}

// Serve accepts connections on ln (plain TCP; TLS is added here) until ln is
// closed.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.admit(c) {
			c.Close()
			continue
		}
		go s.serveConn(c)
	}
}

// Shutdown stops accepting requests, waits for requests in progress (until
// ctx ends), then closes every connection.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancelBase()
	}
	s.svc.Close(ctx)
	s.cancelBase()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *Server) serveConn(raw net.Conn) {
	logger := s.logger.With("remote", raw.RemoteAddr().String())
	defer func() {
		if r := recover(); r != nil {
			logger.Error("connection handler panicked", "panic", r, "stack", string(debug.Stack()))
		}
		raw.Close()
		s.forget(raw)
	}()

	clock := &requestClock{Conn: raw, timeout: s.cfg.ReadTimeout}
	conn := tls.Server(clock, s.cfg.TLS)
	hctx, cancel := context.WithTimeout(context.Background(), s.cfg.HandshakeTimeout)
	err := conn.HandshakeContext(hctx)
	cancel()
	if err != nil {
		logger.Info("TLS handshake failed", "err", err)
		return
	}
	if s.cfg.Admit != nil {
		release, ok := s.cfg.Admit(raw, conn.ConnectionState())
		if !ok {
			logger.Warn("client rejected: certificate revoked")
			return
		}
		defer release()
	}
	ident, err := identityFrom(conn.ConnectionState())
	if err != nil {
		logger.Warn("client rejected", "err", err)
		return
	}
	id := ident.String()
	logger = logger.With("client", id)
	if !s.admitClient(id) {
		s.refused.client(logger, s.cfg.MaxConnsPerClient)
		_ = conn.Close()
		return
	}
	defer s.forgetClient(id)
	logger.Debug("client connected")

	lim := wire.Limits{MaxMessageSize: s.cfg.MaxMessageSize}
	for {
		clock.arm(s.cfg.IdleTimeout)
		msg, err := wire.ReadMessage(plaintextReader{r: conn, clock: clock}, lim)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				logger.Info("closing connection after read failure", "err", err)
				if errors.Is(err, wire.ErrTooLarge) || errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrUnexpectedTag) {
					s.write(conn, logger, errorResponse(versionOf(msg), errTooLargeOrMalformed(err)))
				}
			}
			return
		}
		if !s.startRequest() {
			return
		}
		resp, fatal := s.handle(ident, raw.RemoteAddr().String(), msg, logger)
		ok := s.write(conn, logger, resp)
		// A Register carries key material in, a Get carries it out: the
		// buffers do not outlive the exchange.
		clear(msg)
		clear(resp)
		s.inflight.Done()
		if !ok || fatal {
			return
		}
	}
}

func (s *Server) startRequest() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}

func errTooLargeOrMalformed(err error) error {
	if errors.Is(err, wire.ErrTooLarge) {
		return errTooLarge
	}
	return errInvalidMessage
}

// handle validates, decodes and executes one request message from the
// client id at address remote. fatal reports that the connection must be
// closed after answering.
func (s *Server) handle(id policy.Identity, remote string, msg []byte, logger *slog.Logger) (resp []byte, fatal bool) {
	if err := wire.Validate(msg, wire.Limits{MaxMessageSize: s.cfg.MaxMessageSize}); err != nil {
		logger.Info("rejected malformed message", "err", err)
		s.svc.auditInvalid(id.String(), remote)
		return errorResponse(versionOf(msg), errInvalidMessage), false
	}
	req, err := decodeRequest(msg)
	if err != nil {
		logger.Info("rejected undecodable message", "err", err)
		s.svc.auditInvalid(id.String(), remote)
		return errorResponse(versionOf(msg), errInvalidMessage), false
	}
	ctx, cancel := context.WithTimeout(withRemote(s.base, remote), s.cfg.RequestTimeout)
	defer cancel()
	return s.svc.ExecuteAs(ctx, id, req), false
}

// decodeRequest runs the TTLV decoder, which is not hardened against every
// input, behind a recover.
func decodeRequest(msg []byte) (req *kmip.RequestMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			req, err = nil, errors.New("kmip: request decoder panicked")
		}
	}()
	req = &kmip.RequestMessage{}
	if err := ttlv.UnmarshalTTLV(msg, req); err != nil {
		return nil, err
	}
	return req, nil
}

func versionOf(msg []byte) kmip.ProtocolVersion {
	if major, minor, ok := wire.PeekVersion(msg); ok {
		return negotiate(kmip.ProtocolVersion{ProtocolVersionMajor: major, ProtocolVersionMinor: minor})
	}
	return kmip.V1_0
}

func (s *Server) write(conn *tls.Conn, logger *slog.Logger, b []byte) bool {
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := conn.Write(b); err != nil {
		logger.Info("write failed", "err", err)
		return false
	}
	return true
}

// requestClock is the TCP connection under TLS. Once armed, it waits the
// idle timeout for the next request; the first byte that arrives then, on
// the TCP connection or from what TLS has buffered, starts the request's
// deadline, which no later byte moves. TLS hands on no plaintext until a
// whole record is in, so the clock counts TCP bytes: a client that trickles
// one record a byte at a time is cut off as surely as one that trickles
// records. Any record starts the clock, also one that carries no request
// (a key update): the request must follow within the deadline.
//
// Only the connection's goroutine reads, arms and starts it.
type requestClock struct {
	net.Conn
	timeout time.Duration
	armed   bool
}

func (c *requestClock) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.saw(n)
	return n, err
}

// arm waits at most idle for the next request.
func (c *requestClock) arm(idle time.Duration) {
	c.armed = true
	_ = c.Conn.SetReadDeadline(time.Now().Add(idle))
}

// saw starts the request's deadline at its first byte.
func (c *requestClock) saw(n int) {
	if n > 0 && c.armed {
		c.armed = false
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
}

// plaintextReader reads decrypted bytes; those TLS had already received
// with an earlier request start the clock too.
type plaintextReader struct {
	r     io.Reader
	clock *requestClock
}

func (r plaintextReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.clock.saw(n)
	return n, err
}
