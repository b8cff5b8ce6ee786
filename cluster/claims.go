package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/denylist"
)

// Raft's request types on the wire (raft's NetworkTransport: one type byte,
// then the msgpack-encoded request; an InstallSnapshot request is followed
// by Size bytes of snapshot data).
const (
	rpcAppendEntries   = 0
	rpcRequestVote     = 1
	rpcInstallSnapshot = 2
	rpcTimeoutNow      = 3
	rpcRequestPreVote  = 4
)

// claimChunk bounds the snapshot data passed through in one read.
const claimChunk = 64 << 10

// claimConn is an accepted Raft connection whose requests must claim the
// sender id that the peer's certificate names. It reads each request ahead
// of raft, decodes its header, and lets raft read the request's bytes only
// once the claim is checked; a false claim closes the connection before
// raft sees anything. The certificate itself was checked (node CA, member)
// during the handshake.
type claimConn struct {
	*tls.Conn
	anchors   []*x509.Certificate
	handshake time.Duration // bound on the TLS handshake
	guard     *denylist.Guard
	mu        sync.Mutex
	closed    bool
	untrack   func() // set once the guard tracks the connection
	id        string
	rec       recorder
	dec       *codec.Decoder
	ready     []byte // checked bytes raft has not read yet
	raw       int64  // snapshot data still to pass through
}

func newClaimConn(c *tls.Conn, anchors []*x509.Certificate, handshake time.Duration, guard *denylist.Guard) *claimConn {
	cc := &claimConn{Conn: c, anchors: anchors, handshake: handshake, guard: guard, rec: recorder{r: bufio.NewReader(c)}}
	cc.dec = codec.NewDecoder(&cc.rec, &codec.MsgpackHandle{})
	return cc
}

func (c *claimConn) Read(p []byte) (int, error) {
	for len(c.ready) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

// next reads, checks and queues the next request, or the next piece of
// snapshot data.
func (c *claimConn) next() error {
	if c.id == "" {
		// Raft reads without a deadline: a peer that never completes the
		// handshake would hold the connection forever.
		ctx, cancel := context.WithTimeout(context.Background(), c.handshake)
		err := c.Conn.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return err
		}
		cs := c.Conn.ConnectionState()
		id, ok := peerNodeID(cs, c.anchors)
		if !ok {
			return errNotANode
		}
		untrack, ok := c.guard.Admit(c, cs, "raft")
		if !ok {
			return denylist.ErrRevoked
		}
		c.mu.Lock()
		closed := c.closed
		if !closed {
			c.untrack = untrack
		}
		c.mu.Unlock()
		if closed {
			untrack()
			return net.ErrClosed
		}
		c.id = id
	}
	if c.raw > 0 {
		buf := make([]byte, min(c.raw, claimChunk))
		n, err := io.ReadFull(c.rec.r, buf)
		c.raw -= int64(n)
		c.ready = buf[:n]
		if n > 0 {
			return nil
		}
		return err
	}
	c.rec.buf = c.rec.buf[:0]
	typ, err := c.rec.ReadByte()
	if err != nil {
		return err
	}
	var hdr raft.RPCHeader
	switch typ {
	case rpcAppendEntries:
		var req raft.AppendEntriesRequest
		err, hdr = c.dec.Decode(&req), req.RPCHeader
	case rpcRequestVote:
		var req raft.RequestVoteRequest
		err, hdr = c.dec.Decode(&req), req.RPCHeader
	case rpcInstallSnapshot:
		var req raft.InstallSnapshotRequest
		err, hdr = c.dec.Decode(&req), req.RPCHeader
		if err == nil && req.Size < 0 {
			err = fmt.Errorf("cluster: snapshot of %d bytes", req.Size)
		}
		c.raw = req.Size
	case rpcTimeoutNow:
		var req raft.TimeoutNowRequest
		err, hdr = c.dec.Decode(&req), req.RPCHeader
	case rpcRequestPreVote:
		var req raft.RequestPreVoteRequest
		err, hdr = c.dec.Decode(&req), req.RPCHeader
	default:
		return fmt.Errorf("cluster: unknown raft request type %d from %s", typ, c.id)
	}
	if err != nil {
		return fmt.Errorf("cluster: undecodable raft request from %s: %w", c.id, err)
	}
	if string(hdr.ID) != c.id {
		return fmt.Errorf("%w: %s sent a raft request as %q", ErrNotMember, c.id, hdr.ID)
	}
	c.ready = append([]byte(nil), c.rec.buf...)
	return nil
}

// Close forgets the connection in the deny-list guard.
func (c *claimConn) Close() error {
	c.mu.Lock()
	c.closed = true
	untrack := c.untrack
	c.untrack = nil
	c.mu.Unlock()
	if untrack != nil {
		untrack()
	}
	return c.Conn.Close()
}

// recorder keeps every byte the decoder reads, so that the request can be
// replayed to raft once checked. The decoder reads exactly one value: it
// uses ReadByte and UnreadByte, and reads of the lengths it needs.
type recorder struct {
	r   *bufio.Reader
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

func (r *recorder) ReadByte() (byte, error) {
	b, err := r.r.ReadByte()
	if err == nil {
		r.buf = append(r.buf, b)
	}
	return b, err
}

func (r *recorder) UnreadByte() error {
	if err := r.r.UnreadByte(); err != nil {
		return err
	}
	r.buf = r.buf[:len(r.buf)-1]
	return nil
}

// claimListener wraps the Raft listener's connections in claimConn.
type claimListener struct {
	net.Listener
	anchors   []*x509.Certificate
	handshake time.Duration
	guard     *denylist.Guard
}

func (l claimListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newClaimConn(c.(*tls.Conn), l.anchors, l.handshake, l.guard), nil
}
