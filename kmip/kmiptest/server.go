package kmiptest

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/kmsd/kmsd/kmip"
)

// Server is a kmip.Server for a fixture, listening on 127.0.0.1.
type Server struct {
	Addr   string
	PKI    *PKI
	Server *kmip.Server
}

// StartServer serves f.Service over mutual TLS with cfg; a nil cfg.TLS gets a
// fresh PKI and a nil cfg.Logger the fixture's logs. The server is shut down
// when the test ends.
func StartServer(t testing.TB, f *Fixture, cfg kmip.ServerConfig) *Server {
	t.Helper()
	pki := NewPKI(t, "kmiptest CA")
	if cfg.TLS == nil {
		cfg.TLS = pki.ServerTLS()
	}
	if cfg.Logger == nil {
		cfg.Logger = f.Logs.Logger()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := kmip.NewServer(cfg, f.Service)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-ctx.Done():
			t.Error("Serve did not return after the listener was closed")
		}
	})
	return &Server{Addr: ln.Addr().String(), PKI: pki, Server: srv}
}

// Dial opens a TLS connection and completes the handshake within 5 seconds.
func (s *Server) Dial(t testing.TB, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, cfg)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		raw.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	t.Cleanup(func() { conn.Close() })
	return conn, nil
}

// MustDial dials as a client with Common Name cn.
func (s *Server) MustDial(t testing.TB, cn string) *tls.Conn {
	t.Helper()
	conn, err := s.Dial(t, s.PKI.ClientTLS(cn))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return conn
}

// RoundTrip writes one request and reads one response, both within timeout.
func RoundTrip(conn net.Conn, req []byte, timeout time.Duration) ([]byte, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	return ReadResponse(conn)
}

// maxResponse bounds what ReadResponse accepts.
const maxResponse = 16 << 20

// ReadResponse reads one TTLV Response Message.
func ReadResponse(r io.Reader) ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	if tag := uint32(hdr[0])<<16 | uint32(hdr[1])<<8 | uint32(hdr[2]); tag != 0x42007B || hdr[3] != 0x01 {
		return nil, fmt.Errorf("not a Response Message: % x", hdr)
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxResponse {
		return nil, errors.New("response too large")
	}
	msg := make([]byte, 8+int(n))
	copy(msg, hdr[:])
	if _, err := io.ReadFull(r, msg[8:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// WaitClosed reads from conn until the peer closes it or fails it, and
// reports whether that happened within timeout. Any bytes read are returned.
func WaitClosed(conn net.Conn, timeout time.Duration) (closed bool, data []byte) {
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, data
			}
			return true, data
		}
	}
}
