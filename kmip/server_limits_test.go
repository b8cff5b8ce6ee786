package kmip_test

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// trickleConn is a client's TCP connection that, once slowed, writes one
// byte at a time with a pause after each: TLS hands it a whole record, and
// the server sees the record arrive byte by byte.
type trickleConn struct {
	net.Conn
	pause atomic.Int64 // nanoseconds; 0 writes at once
}

func (c *trickleConn) Write(p []byte) (int, error) {
	d := time.Duration(c.pause.Load())
	if d == 0 {
		return c.Conn.Write(p)
	}
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(d)
	}
	return len(p), nil
}

// dialTrickle opens a TLS connection as alice whose writes can be slowed.
func dialTrickle(t *testing.T, srv *kmiptest.Server) (*tls.Conn, *trickleConn) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", srv.Addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	tc := &trickleConn{Conn: raw}
	conn := tls.Client(tc, srv.PKI.ClientTLS(alice))
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if err := conn.Handshake(); err != nil {
		raw.Close()
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Time{})
	t.Cleanup(func() { raw.Close() })
	return conn, tc
}

// TestServerWholeRequestDeadline: a client that sends its request one TCP
// byte at a time, each byte well within any gap between reads the server
// could allow and the whole far slower than ReadTimeout, is cut off before
// its request is complete and gets no answer. TLS passes on no plaintext
// until a record is whole, so a deadline started by the first decrypted
// byte would not start until the request had arrived.
func TestServerWholeRequestDeadline(t *testing.T) {
	cfg := fastConfig()
	cfg.ReadTimeout = time.Second
	cfg.IdleTimeout = 30 * time.Second
	f, srv := startServer(t, cfg)
	conn, tc := dialTrickle(t, srv)
	msg := queryMessage(nil, nil)
	// About 120 TCP bytes for the record: six seconds at this pace.
	tc.pause.Store(int64(50 * time.Millisecond))
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(msg)
		wrote <- err
	}()
	closed, data := kmiptest.WaitClosed(conn, 20*time.Second)
	if len(data) > 0 {
		t.Fatalf("the server answered a request that took longer than ReadTimeout to arrive: %d bytes", len(data))
	}
	if !closed {
		t.Fatal("connection still open")
	}
	select {
	case err := <-wrote:
		if err == nil {
			t.Error("the whole request was sent before the server closed the connection")
		}
	case <-time.After(ioTimeout):
		t.Error("the client could still write after the server closed")
		tc.Conn.Close()
	}
	checkServes(t, srv)
	checkNoPanics(t, f)
}

// failsWith checks an item's reason and that its message says why.
func failsWith(t *testing.T, bi kmip.ResponseBatchItem, reason kmip.ResultReason, text string) {
	t.Helper()
	fails(t, bi, reason)
	if !strings.Contains(bi.ResultMessage, text) {
		t.Errorf("%s: result message %q, want it to mention %q", ttlv.EnumStr(bi.Operation), bi.ResultMessage, text)
	}
}

// TestServerBatchDeadline: a batch whose first item outlasts RequestTimeout
// answers its remaining items with a deadline error instead of running
// them, in each Batch Error Continuation Option, and with Undo still undoes
// what the first item did.
func TestServerBatchDeadline(t *testing.T) {
	cfg := fastConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	f, srv := startServer(t, cfg)
	var slow atomic.Bool
	f.Replicator.SetHook(func([]byte) {
		if slow.Swap(false) {
			time.Sleep(2 * cfg.RequestTimeout)
		}
	})
	conn := srv.MustDial(t, alice)
	const queries = 50
	batch := func(opt kmip.BatchErrorContinuationOption) []kmip.ResponseBatchItem {
		t.Helper()
		pls := []kmip.OperationPayload{&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)}}
		for range queries {
			pls = append(pls, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})
		}
		req := kmip.NewRequestMessage(kmip.V1_4, pls...)
		req.Header.BatchErrorContinuationOption = opt
		slow.Store(true)
		items := roundTrip(t, conn, ttlv.MarshalTTLV(&req)).BatchItem
		if len(items) != len(pls) {
			t.Fatalf("%d items answered, want %d", len(items), len(pls))
		}
		return items
	}

	t.Run("continue", func(t *testing.T) {
		items := batch(kmip.BatchErrorContinuationOptionContinue)
		ok[*payloads.CreateResponsePayload](t, items[0])
		for _, bi := range items[1:] {
			failsWith(t, bi, kmip.ResultReasonGeneralFailure, "deadline")
		}
	})
	t.Run("stop", func(t *testing.T) {
		items := batch(kmip.BatchErrorContinuationOptionStop)
		ok[*payloads.CreateResponsePayload](t, items[0])
		failsWith(t, items[1], kmip.ResultReasonGeneralFailure, "deadline")
		for _, bi := range items[2:] {
			fails(t, bi, kmip.ResultReasonOperationCanceledByRequester)
		}
	})
	t.Run("undo", func(t *testing.T) {
		before := f.FSM.Count()
		items := batch(kmip.BatchErrorContinuationOptionUndo)
		if items[0].ResultStatus != kmip.ResultStatusOperationUndone {
			t.Errorf("the Create before the deadline answered %v, want Operation Undone", items[0].ResultStatus)
		}
		failsWith(t, items[1], kmip.ResultReasonGeneralFailure, "deadline")
		if n := f.FSM.Count(); n != before {
			t.Errorf("%d objects after the undo, want %d", n, before)
		}
	})
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, conn, queryMessage(nil, nil)).BatchItem[0])
	checkNoPanics(t, f)
}

func ecKeyPair() *payloads.CreateKeyPairRequestPayload {
	return createKeyPair([]kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmECDSA), curveParam(kmip.RecommendedCurveP_256)}, nil, nil)
}

// TestServerKeyPairBound: while MaxKeyPairGenerations key-pair operations
// run, another one waits, and answers a deadline error when its request's
// deadline passes; other operations go on meanwhile, and once the slot is
// free key pairs are made again.
func TestServerKeyPairBound(t *testing.T) {
	cfg := fastConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	f := kmiptest.NewWith(t, func(c *kmsdkmip.Config) { c.MaxKeyPairGenerations = 1 })
	srv := kmiptest.StartServer(t, f, cfg)

	// The first key pair holds its slot until released.
	entered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	first.Store(true)
	f.Replicator.SetHook(func([]byte) {
		if first.Swap(false) {
			close(entered)
			<-release
		}
	})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	holder := srv.MustDial(t, alice)
	held := make(chan error, 1)
	go func() {
		_, err := kmiptest.RoundTrip(holder, encode(kmip.V1_4, ecKeyPair()), ioTimeout)
		held <- err
	}()
	select {
	case <-entered:
	case <-time.After(ioTimeout):
		t.Fatal("the first Create Key Pair never reached the replicator")
	}

	conn := srv.MustDial(t, bob)
	failsWith(t, roundTrip(t, conn, encode(kmip.V1_4, ecKeyPair())).BatchItem[0], kmip.ResultReasonGeneralFailure, "deadline")
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, conn, encode(kmip.V1_4, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})).BatchItem[0])

	unblock()
	if err := <-held; err != nil {
		t.Fatalf("the first Create Key Pair: %v", err)
	}
	ok[*payloads.CreateKeyPairResponsePayload](t, roundTrip(t, conn, encode(kmip.V1_4, ecKeyPair())).BatchItem[0])
	checkNoPanics(t, f)
}

// TestServerRateLimit: each identity has its own token bucket of batch
// items. The fixture's clock stands still unless moved, so the bucket
// refills only when the test says.
func TestServerRateLimit(t *testing.T) {
	const burst = 3
	f := kmiptest.NewWith(t, func(c *kmsdkmip.Config) { c.RateLimit, c.RateBurst = 1, burst })
	srv := kmiptest.StartServer(t, f, fastConfig())
	query := func(n int) []byte {
		pls := make([]kmip.OperationPayload, n)
		for i := range pls {
			pls[i] = &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}}
		}
		return encode(kmip.V1_2, pls...)
	}
	a, b := srv.MustDial(t, alice), srv.MustDial(t, bob)
	for range burst {
		ok[*payloads.QueryResponsePayload](t, roundTrip(t, a, query(1)).BatchItem[0])
	}
	// Over the limit: every item answers, none runs.
	limited := roundTrip(t, a, query(2))
	if len(limited.BatchItem) != 2 {
		t.Fatalf("%d items answered, want 2", len(limited.BatchItem))
	}
	for _, bi := range limited.BatchItem {
		failsWith(t, bi, kmip.ResultReasonGeneralFailure, "rate")
		if bi.Operation != kmip.OperationQuery {
			t.Errorf("refused item names operation %v", bi.Operation)
		}
	}
	// Another connection of the same identity shares the bucket.
	failsWith(t, roundTrip(t, srv.MustDial(t, alice), query(1)).BatchItem[0], kmip.ResultReasonGeneralFailure, "rate")
	// Another identity has a bucket of its own; a batch larger than the
	// bucket runs when the bucket is full, and empties it.
	for _, bi := range roundTrip(t, b, query(burst+2)).BatchItem {
		ok[*payloads.QueryResponsePayload](t, bi)
	}
	failsWith(t, roundTrip(t, b, query(1)).BatchItem[0], kmip.ResultReasonGeneralFailure, "rate")

	f.Clock.Advance(time.Second)
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, a, query(1)).BatchItem[0])
	failsWith(t, roundTrip(t, a, query(1)).BatchItem[0], kmip.ResultReasonGeneralFailure, "rate")
	checkNoPanics(t, f)
}

// waitFor polls cond until it holds, for at most ioTimeout: the server
// notices a client's close in its own time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func queryWorks(t *testing.T, conn *tls.Conn) {
	t.Helper()
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, conn, queryMessage(nil, nil)).BatchItem[0])
}

// TestServerConnectionsPerClient: an identity's connection over
// MaxConnsPerClient is closed after its handshake, before any request;
// other identities still connect, and so does this one once it has closed
// one.
func TestServerConnectionsPerClient(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxConnsPerClient = 2
	f, srv := startServer(t, cfg)
	a1, a2 := srv.MustDial(t, alice), srv.MustDial(t, alice)
	queryWorks(t, a1)
	queryWorks(t, a2)

	if extra, err := srv.Dial(t, srv.PKI.ClientTLS(alice)); err == nil {
		// With TLS 1.3 the client's handshake ends before the server's.
		b, err := kmiptest.RoundTrip(extra, queryMessage(nil, nil), ioTimeout)
		if err == nil {
			t.Fatalf("a connection over the limit was answered: %s", kmiptest.Dump(b))
		}
		if isTimeout(err) {
			t.Fatalf("a connection over the limit was neither answered nor closed: %v", err)
		}
	}
	if n := srv.Server.Stats().RefusedClientConns; n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
	if len(f.Logs.Contains("too many connections of this client")) == 0 {
		t.Error("the refusal was not logged")
	}
	queryWorks(t, srv.MustDial(t, bob))

	a1.Close()
	waitFor(t, "the server to see the close", func() bool { return srv.Server.Stats().Open == 2 })
	queryWorks(t, srv.MustDial(t, alice))
	checkNoPanics(t, f)
}

// TestServerConnectionsTotal: a connection over MaxConns is closed at once,
// before TLS, whoever dials; once one closes the server serves again.
func TestServerConnectionsTotal(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxConns = 2
	f, srv := startServer(t, cfg)
	a, b := srv.MustDial(t, alice), srv.MustDial(t, bob)
	queryWorks(t, a)
	queryWorks(t, b)

	raw, err := net.DialTimeout("tcp", srv.Addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if closed, data := kmiptest.WaitClosed(raw, ioTimeout); !closed || len(data) > 0 {
		t.Fatalf("a connection over MaxConns: closed %v, %d bytes sent to it", closed, len(data))
	}
	if n := srv.Server.Stats().RefusedConns; n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
	queryWorks(t, a)

	a.Close()
	waitFor(t, "the server to see the close", func() bool { return srv.Server.Stats().Open == 1 })
	checkServes(t, srv)
	checkNoPanics(t, f)
}
