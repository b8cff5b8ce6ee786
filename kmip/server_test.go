package kmip_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// ioTimeout bounds every client read in server tests: a server that hangs
// fails the test instead of hanging it.
const ioTimeout = 5 * time.Second

// fastConfig has timeouts short enough for tests.
func fastConfig() kmsdkmip.ServerConfig {
	return kmsdkmip.ServerConfig{
		MaxMessageSize:   64 << 10,
		HandshakeTimeout: time.Second,
		IdleTimeout:      10 * time.Second,
		ReadTimeout:      2 * time.Second,
		WriteTimeout:     2 * time.Second,
	}
}

func startServer(t *testing.T, cfg kmsdkmip.ServerConfig) (*kmiptest.Fixture, *kmiptest.Server) {
	t.Helper()
	f := kmiptest.New(t)
	return f, kmiptest.StartServer(t, f, cfg)
}

func encode(v kmip.ProtocolVersion, pls ...kmip.OperationPayload) []byte {
	req := kmip.NewRequestMessage(v, pls...)
	return ttlv.MarshalTTLV(&req)
}

// roundTrip sends one request and decodes the answer.
func roundTrip(t *testing.T, conn *tls.Conn, req []byte) *kmip.ResponseMessage {
	t.Helper()
	b, err := kmiptest.RoundTrip(conn, req, ioTimeout)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	checkNoLeakBytes(t, b)
	resp := kmiptest.DecodeResponse(t, b)
	kmiptest.CheckNoLeak(t, resp)
	return resp
}

func checkNoLeakBytes(t *testing.T, b []byte) {
	t.Helper()
	low := bytes.ToLower(b)
	for _, w := range kmiptest.Leaks {
		if bytes.Contains(low, []byte(w)) {
			t.Errorf("response leaks %q", w)
		}
	}
}

// checkServes opens a fresh connection and runs a Query on it.
func checkServes(t *testing.T, srv *kmiptest.Server) {
	t.Helper()
	conn := srv.MustDial(t, alice)
	resp := roundTrip(t, conn, encode(kmip.V1_2, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionObjects}}))
	ok[*payloads.QueryResponsePayload](t, resp.BatchItem[0])
	conn.Close()
}

func checkNoPanics(t *testing.T, f *kmiptest.Fixture) {
	t.Helper()
	for _, line := range f.Logs.Contains("panicked") {
		t.Errorf("server logged a panic: %s", line)
	}
}

func TestServerMutualTLS(t *testing.T) {
	f, srv := startServer(t, fastConfig())
	conn := srv.MustDial(t, alice)
	resp := roundTrip(t, conn, encode(kmip.V1_1,
		&payloads.DiscoverVersionsRequestPayload{},
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.GetRequestPayload{},
	))
	if resp.Header.ProtocolVersion != kmip.V1_1 {
		t.Errorf("answered in %s", resp.Header.ProtocolVersion)
	}
	ok[*payloads.DiscoverVersionsResponsePayload](t, resp.BatchItem[0])
	id := ok[*payloads.CreateResponsePayload](t, resp.BatchItem[1]).UniqueIdentifier
	ok[*payloads.GetResponsePayload](t, resp.BatchItem[2])

	// Several requests on one connection.
	for range 3 {
		again := roundTrip(t, conn, encode(kmip.V1_1, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id}))
		ok[*payloads.GetAttributesResponsePayload](t, again.BatchItem[0])
	}
	o, err := f.FSM.Get(id)
	if want := srv.PKI.Identity(alice); err != nil || o.Owner != want || o.Creator != want {
		t.Fatalf("object owner %q creator %q, err %v; want the certificate's identity %q", o.Owner, o.Creator, err, want)
	}
	// Another certificate is another tenant.
	other := srv.MustDial(t, bob)
	fails(t, roundTrip(t, other, encode(kmip.V1_1, &payloads.GetRequestPayload{UniqueIdentifier: id})).BatchItem[0], kmip.ResultReasonItemNotFound)
}

func TestServerRejectsBadClientCertificates(t *testing.T) {
	f, srv := startServer(t, fastConfig())
	foreign := kmiptest.NewPKI(t, "some other CA")
	foreignCfg := srv.PKI.ClientTLS("")
	foreignCfg.Certificates = []tls.Certificate{foreign.ClientCert(alice)}
	for _, tt := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"no certificate", srv.PKI.ClientTLS("")},
		{"certificate from another CA", foreignCfg},
		{"no certificate TLS 1.2", withMaxVersion(srv.PKI.ClientTLS(""), tls.VersionTLS12)},
		{"another CA TLS 1.2", withMaxVersion(foreignCfg.Clone(), tls.VersionTLS12)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := srv.Dial(t, tt.cfg)
			if err != nil {
				return // refused during the handshake (TLS 1.2)
			}
			// With TLS 1.3 the client finishes first and learns of the
			// refusal on its next read.
			b, err := kmiptest.RoundTrip(conn, encode(kmip.V1_2, &payloads.QueryRequestPayload{}), ioTimeout)
			if err == nil {
				t.Fatalf("server answered a client it should have refused: %s", kmiptest.Dump(b))
			}
			if isTimeout(err) {
				t.Fatalf("server neither answered nor closed: %v", err)
			}
		})
	}
	checkServes(t, srv)
	if n := f.Replicator.Applied(); n != 0 {
		t.Errorf("%d commands applied", n)
	}
}

func withMaxVersion(cfg *tls.Config, v uint16) *tls.Config {
	cfg.MaxVersion = v
	return cfg
}

func TestServerOversizedMessage(t *testing.T) {
	cfg := fastConfig()
	cfg.ReadTimeout = 30 * time.Second // a server that waits for the body would outlast ioTimeout
	cfg.IdleTimeout = 30 * time.Second
	f, srv := startServer(t, cfg)
	conn := srv.MustDial(t, alice)
	// A header announcing 1 MiB, more than MaxMessageSize; no body follows.
	hdr := []byte{0x42, 0x00, 0x78, 0x01, 0x00, 0x10, 0x00, 0x00}
	start := time.Now()
	b, err := kmiptest.RoundTrip(conn, hdr, ioTimeout)
	if err != nil {
		t.Fatalf("no error response to an oversized header: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("answered after %v: the server waited for the body", d)
	}
	checkNoLeakBytes(t, b)
	resp := kmiptest.DecodeResponse(t, b)
	kmiptest.CheckNoLeak(t, resp)
	if len(resp.BatchItem) != 1 || resp.BatchItem[0].ResultStatus == kmip.ResultStatusSuccess {
		t.Fatalf("response %s", kmiptest.Dump(b))
	}
	fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage, kmip.ResultReasonResponseTooLarge)
	if closed, _ := kmiptest.WaitClosed(conn, ioTimeout); !closed {
		t.Error("connection left open after an oversized message")
	}
	checkServes(t, srv)
	checkNoPanics(t, f)
}

func TestServerMessageAtSizeLimit(t *testing.T) {
	cfg := fastConfig()
	_, srv := startServer(t, cfg)
	conn := srv.MustDial(t, alice)
	// Pad a Register of opaque data up to just under the limit.
	obj := &kmip.OpaqueObject{OpaqueDataType: 0x80000000, OpaqueDataValue: make([]byte, cfg.MaxMessageSize-300)}
	req := encode(kmip.V1_2, &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeOpaqueObject, Object: obj})
	if len(req) > cfg.MaxMessageSize {
		t.Fatalf("request is %d bytes, limit %d", len(req), cfg.MaxMessageSize)
	}
	ok[*payloads.RegisterResponsePayload](t, roundTrip(t, conn, req).BatchItem[0])
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// TestServerPipelining: requests written back to back are answered in order.
func TestServerPipelining(t *testing.T) {
	f, srv := startServer(t, fastConfig())
	var ids []string
	var reqs []byte
	for range 5 {
		id := createAs(t, f, srv.PKI.Identity(alice), kmip.V1_3, aesTemplate(256))
		ids = append(ids, id)
		reqs = append(reqs, encode(kmip.V1_3, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id})...)
	}
	conn := srv.MustDial(t, alice)
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := conn.Write(reqs); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		b, err := kmiptest.ReadResponse(conn)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		resp := kmiptest.DecodeResponse(t, b)
		if got := ok[*payloads.GetAttributesResponsePayload](t, resp.BatchItem[0]).UniqueIdentifier; got != id {
			t.Errorf("response %d is for %q, want %q", i, got, id)
		}
	}
}
