package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// session is one synchronous KMIP connection: write a request, read its
// response, on the caller's goroutine.
//
// It deliberately does not use kmipclient.Client. That client's connection
// (kmipclient/conn.go, v0.8.1) closes its send channel from the read loop
// while a sender may still be using it: when a server refuses the client
// certificate (a TLS 1.3 server does so after the client's handshake has
// completed), the race detector reports it and the process can panic with
// "send on closed channel". Its read loop also decodes in a goroutine of
// its own, where a decoder panic on a malformed response cannot be
// recovered. The message types, payloads and TTLV codec are kmip-go's.
type session struct {
	addr    string
	cfg     connConfig
	conn    net.Conn
	stream  ttlv.Stream
	version kmip.ProtocolVersion
}

// supportedVersions is what kmsctl offers in Discover Versions, preferred
// first.
var supportedVersions = []kmip.ProtocolVersion{kmip.V1_4, kmip.V1_3, kmip.V1_2, kmip.V1_1, kmip.V1_0}

// dial connects to the first address of cfg.server (a comma-separated
// list) that answers, over TLS, and settles the protocol version: the
// pinned one, or the server's first choice from Discover Versions. The next
// address is tried when one cannot be dialled, its TLS handshake fails or
// the connection breaks before Discover Versions is answered; a KMIP error
// in the answer ends the search, since another node would say the same.
func dial(ctx context.Context, cfg connConfig) (*session, error) {
	addrs, err := splitAddrs("server", cfg.server)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	var failures []string
	for i, addr := range addrs {
		c := cfg
		c.server = addr
		actx, cancel := attemptContext(ctx, len(addrs)-i)
		s, err := dialOne(actx, c, tlsCfg)
		cancel()
		if err == nil {
			c.logf("connected to %s (KMIP %s)", addr, s.version)
			return s, nil
		}
		var te *transportError
		if len(addrs) == 1 || !errors.As(err, &te) {
			return nil, unwrapTransport(err)
		}
		failures = append(failures, unwrapTransport(err).Error())
		if i+1 < len(addrs) {
			c.logf("%v; trying %s", unwrapTransport(err), addrs[i+1])
		}
	}
	return nil, fmt.Errorf("no address of --server answered: %s", strings.Join(failures, "; "))
}

// transportError marks a failure of the connection itself, after which the
// next address is worth a try.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func unwrapTransport(err error) error {
	var te *transportError
	if errors.As(err, &te) {
		return te.err
	}
	return err
}

// dialOne connects to cfg.server, a single address.
func dialOne(ctx context.Context, cfg connConfig, tlsCfg *tls.Config) (*session, error) {
	d := tls.Dialer{Config: tlsCfg}
	conn, err := d.DialContext(ctx, "tcp", cfg.server)
	if err != nil {
		return nil, &transportError{connectErr(cfg.server, cfg.kmipHint(connErr(ctx, err)))}
	}
	s := &session{addr: cfg.server, cfg: cfg, conn: conn, stream: ttlv.NewStream(conn, ttlv.DefaultMaxMessageSize)}
	if cfg.version != nil {
		s.version = *cfg.version
		return s, nil
	}
	if err := s.negotiate(ctx); err != nil {
		_ = conn.Close()
		// A TLS 1.3 server refuses a client certificate after the
		// client's side of the handshake: the refusal is read here.
		var te *transportError
		if errors.As(err, &te) {
			return nil, &transportError{connectErr(cfg.server, cfg.kmipHint(te.err))}
		}
		return nil, connectErr(cfg.server, err)
	}
	return s, nil
}

// splitAddrs reads a comma-separated address list.
func splitAddrs(flag, list string) ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--%s names no address", flag)
	}
	return addrs, nil
}

// attemptContext gives one of left remaining attempts its share of ctx's
// time, so that an address that never answers leaves time for the others.
func attemptContext(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || left <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/time.Duration(left))
}

// negotiate follows KMIP 1.4 Discover Versions: the server returns the versions it
// supports out of the client's list, preferred first. Discover Versions is
// a KMIP 1.1 operation, so a 1.0 server answers Operation Not Supported,
// or Invalid Message for the 1.1 header; both mean "use 1.0".
func (s *session) negotiate(ctx context.Context) error {
	msg := kmip.NewRequestMessage(kmip.V1_1, &payloads.DiscoverVersionsRequestPayload{ProtocolVersion: supportedVersions})
	resp, err := s.roundtrip(ctx, &msg)
	if err != nil {
		return &transportError{err}
	}
	if len(resp.BatchItem) != 1 {
		return errors.New("malformed Discover Versions response")
	}
	bi := &resp.BatchItem[0]
	if bi.ResultStatus == kmip.ResultStatusOperationFailed &&
		(bi.ResultReason == kmip.ResultReasonOperationNotSupported || bi.ResultReason == kmip.ResultReasonInvalidMessage) {
		s.version = kmip.V1_0
		return nil
	}
	if err := itemErr(bi); err != nil {
		return fmt.Errorf("discover versions: %w", err)
	}
	pl, ok := bi.ResponsePayload.(*payloads.DiscoverVersionsResponsePayload)
	if !ok || len(pl.ProtocolVersion) == 0 {
		return errors.New("no KMIP protocol version in common with the server")
	}
	s.version = pl.ProtocolVersion[0]
	return nil
}

func (s *session) Close() error { return s.conn.Close() }

// roundtrip writes msg and reads one response. The context's deadline and
// cancellation apply to the socket.
func (s *session) roundtrip(ctx context.Context, msg *kmip.RequestMessage) (resp *kmip.ResponseMessage, err error) {
	deadline, _ := ctx.Deadline()
	if err := s.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		// ttlv's decoder panics on some malformed primitives.
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("malformed response: %v", r)
		}
	}()
	if err := s.stream.Send(msg); err != nil {
		return nil, connErr(ctx, err)
	}
	resp = new(kmip.ResponseMessage)
	if err := s.stream.Recv(resp); err != nil {
		if ttlv.IsErrEncoding(err) {
			return nil, fmt.Errorf("malformed response: %w", err)
		}
		return nil, connErr(ctx, err)
	}
	return resp, nil
}

// itemResult is the outcome of one batch item.
type itemResult struct {
	payload kmip.OperationPayload
	err     error // a *kmipError, or nil
}

// batch sends the payloads in one request message. The returned error is
// for the exchange as a whole (connection, timeout, a message-level KMIP
// failure); failures of single items are in the results.
func (s *session) batch(ctx context.Context, pls ...kmip.OperationPayload) ([]itemResult, error) {
	msg := kmip.NewRequestMessage(s.version, pls...)
	resp, err := s.roundtrip(ctx, &msg)
	if err != nil {
		return nil, fmt.Errorf("request to %s failed: %w", s.addr, s.cfg.kmipHint(err))
	}
	items := resp.BatchItem
	if len(items) == 1 && len(pls) > 1 {
		// A server that rejects the whole message answers with a
		// single batch item carrying the reason.
		if err := itemErr(&items[0]); err != nil {
			return nil, err
		}
	}
	if len(items) != len(pls) {
		return nil, fmt.Errorf("malformed response from %s: %d batch items for %d requests", s.addr, len(items), len(pls))
	}
	out := make([]itemResult, len(items))
	for i := range items {
		out[i] = itemResult{payload: items[i].ResponsePayload, err: itemErr(&items[i])}
	}
	return out, nil
}

// request sends one operation and returns its response payload as Resp.
func request[Resp kmip.OperationPayload](ctx context.Context, s *session, req kmip.OperationPayload) (Resp, error) {
	var zero Resp
	res, err := s.batch(ctx, req)
	if err != nil {
		return zero, err
	}
	if res[0].err != nil {
		return zero, res[0].err
	}
	return asPayload[Resp](res[0].payload, req.Operation())
}

func asPayload[Resp kmip.OperationPayload](pl kmip.OperationPayload, op kmip.Operation) (Resp, error) {
	resp, ok := pl.(Resp)
	if !ok {
		var zero Resp
		return zero, fmt.Errorf("malformed %s response: unexpected payload %T", opName(op), pl)
	}
	return resp, nil
}
