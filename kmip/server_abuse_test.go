package kmip_test

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// TestServerStaysInSyncAfterInvalidMessage: a fully read message that fails
// validation is answered and the next request on the connection works.
func TestServerStaysInSyncAfterInvalidMessage(t *testing.T) {
	_, srv := startServer(t, fastConfig())
	conn := srv.MustDial(t, alice)
	bad := queryMessage(rawItem(kmip.TagAsynchronousIndicator, tBoolean, 8, []byte{0, 0, 0, 0, 0, 0, 0, 2}), nil)
	fails(t, roundTrip(t, conn, bad).BatchItem[0], kmip.ResultReasonInvalidMessage)
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, conn, queryMessage(nil, nil)).BatchItem[0])
}

func TestServerHandshakeTimeout(t *testing.T) {
	cfg := fastConfig()
	cfg.HandshakeTimeout = 300 * time.Millisecond
	f, srv := startServer(t, cfg)
	for _, tt := range []struct {
		name  string
		hello []byte
	}{
		{"silent", nil},
		{"partial client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(tt.hello); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if closed, _ := kmiptest.WaitClosed(conn, ioTimeout); !closed {
				t.Fatalf("connection that never finished TLS still open after %v", ioTimeout)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("cut off after %v, HandshakeTimeout is %v", d, cfg.HandshakeTimeout)
			}
		})
	}
	checkServes(t, srv)
	checkNoPanics(t, f)
}

func TestServerIdleTimeout(t *testing.T) {
	cfg := fastConfig()
	cfg.IdleTimeout = 300 * time.Millisecond
	_, srv := startServer(t, cfg)
	conn := srv.MustDial(t, alice)
	ok[*payloads.QueryResponsePayload](t, roundTrip(t, conn, queryMessage(nil, nil)).BatchItem[0])
	if closed, _ := kmiptest.WaitClosed(conn, ioTimeout); !closed {
		t.Fatal("idle connection still open")
	}
}

// TestServerSlowClient: a client that sends one byte a second is cut off
// ReadTimeout after its message started, not after the (long) idle timeout.
func TestServerSlowClient(t *testing.T) {
	cfg := fastConfig()
	cfg.ReadTimeout = 1500 * time.Millisecond
	cfg.IdleTimeout = 30 * time.Second
	f, srv := startServer(t, cfg)
	conn := srv.MustDial(t, alice)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		kmiptest.WaitClosed(conn, 20*time.Second)
	}()
	msg := queryMessage(nil, nil)
	start := time.Now()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-closed:
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("cut off after %v, ReadTimeout is %v", d, cfg.ReadTimeout)
			}
			checkServes(t, srv)
			checkNoPanics(t, f)
			return
		case <-deadline:
			t.Fatalf("slow client still connected after %v (%d bytes sent)", time.Since(start), i)
		case <-tick.C:
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write(msg[i%len(msg) : i%len(msg)+1])
		}
	}
}

// TestServerAbruptDisconnects runs many clients that vanish mid-request,
// right after sending a request whose answer is large, or after pipelining
// several requests. Run with -race: the server must not race, panic, leak
// connections or stop serving.
func TestServerAbruptDisconnects(t *testing.T) {
	cfg := fastConfig()
	f, srv := startServer(t, cfg)
	// Enough objects that a Locate answer spans many TLS records.
	for i := range 600 {
		createAs(t, f, alice, kmip.V1_4, aesTemplate(128, attr(kmip.AttributeNameObjectGroup, "bulk"), name("bulk-"+string(rune('a'+i%26)))))
	}
	locate := encode(kmip.V1_4, &payloads.LocateRequestPayload{}, &payloads.LocateRequestPayload{}, &payloads.LocateRequestPayload{})
	query := queryMessage(nil, nil)
	clientCfg := srv.PKI.ClientTLS(alice)
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)

	baseline := runtime.NumGoroutine()
	behaviours := []func(c *tls.Conn){
		func(c *tls.Conn) { _, _ = c.Write(query[:len(query)/2]) },                        // vanish mid-request
		func(c *tls.Conn) { _, _ = c.Write(locate) },                                      // vanish while the answer is written
		func(c *tls.Conn) { _, _ = c.Write(append(append(locate, locate...), query...)) }, // pipelined
		func(c *tls.Conn) { _, _ = c.Write(locate); buf := make([]byte, 100); _, _ = c.Read(buf) },
		func(c *tls.Conn) {}, // handshake only
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := net.DialTimeout("tcp", srv.Addr, ioTimeout)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			if tc, isTCP := raw.(*net.TCPConn); isTCP && i%2 == 0 {
				_ = tc.SetLinger(0) // reset instead of a clean close
			}
			conn := tls.Client(raw, clientCfg)
			_ = conn.SetDeadline(time.Now().Add(ioTimeout))
			if err := conn.Handshake(); err != nil {
				raw.Close()
				return
			}
			behaviours[i%len(behaviours)](conn)
			raw.Close()
		}()
	}
	wg.Wait()
	checkServes(t, srv)
	checkNoPanics(t, f)

	// Every connection goroutine ends: none is stuck writing to a client
	// that is gone (WriteTimeout bounds it).
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfg.WriteTimeout+4*time.Second)
	defer cancel()
	for runtime.NumGoroutine() > baseline+2 {
		select {
		case <-ctx.Done():
			t.Fatalf("%d goroutines, %d before the clients came", runtime.NumGoroutine(), baseline)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
