package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/cluster/denylist"
)

// TestRaftTransportAddresses: a layer bound to one loopback address dials
// its peers from that address, and announces the address it is told to
// advertise (here a relay in front of it) instead of its listener's.
func TestRaftTransportAddresses(t *testing.T) {
	caCert, cert := testNodePKI(t, "node-1")
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	client := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"}

	// The relay stands for a NAT or a proxy: it accepts on its own
	// address, records who connected, and forwards to the layer.
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	layer, err := newTLSStreamLayer("127.0.0.9:0", server, client, []*x509.Certificate{caCert}, 5*time.Second,
		func(id string) bool { return id == "node-1" },
		func(a string) (string, bool) { return "node-1", a == relay.Addr().String() }, denylist.NewGuard())
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	if got := layer.Addr().String(); !strings.HasPrefix(got, "127.0.0.9:") {
		t.Fatalf("without an advertise address the layer announces %s, want its listener", got)
	}
	listener := layer.Addr().String()
	if err := layer.advertiseAs(relay.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if got := layer.Addr().String(); got != relay.Addr().String() {
		t.Fatalf("layer announces %s, want the relay %s", got, relay.Addr())
	}
	for _, bad := range []string{"0.0.0.0:7000", "127.0.0.1:0", "no-port"} {
		if err := layer.advertiseAs(bad); err == nil {
			t.Errorf("advertise address %q accepted", bad)
		}
	}

	from := make(chan string, 1)
	go func() {
		c, err := relay.Accept()
		if err != nil {
			return
		}
		from <- c.RemoteAddr().String()
		up, err := net.Dial("tcp", listener)
		if err != nil {
			c.Close()
			return
		}
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		_, _ = io.Copy(c, up)
		c.Close()
	}()
	go func() {
		for {
			c, err := layer.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = c.Read(make([]byte, 1)); c.Close() }()
		}
	}()
	conn, err := layer.Dial(raft.ServerAddress(relay.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := <-from; !strings.HasPrefix(got, "127.0.0.9:") {
		t.Fatalf("the peer saw a connection from %s, want the node's own address 127.0.0.9", got)
	}
	if sourceAddr("0.0.0.0:7000") != nil || sourceAddr("node.example:7000") != nil {
		t.Error("a wildcard or a host name gave a source address")
	}
}

// Replication does not use raft's pipeline (see New): the transport refuses
// to open one, so raft sends each append and waits for its answer.
func TestReplicationIsNotPipelined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := raft.NewNetworkTransportWithConfig(transportConfig(plainStream{ln}, hclog.NewNullLogger()))
	defer tr.Close()
	if _, err := tr.AppendEntriesPipeline("peer", "127.0.0.1:1"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("AppendEntriesPipeline: %v, want ErrPipelineReplicationNotSupported", err)
	}
}

// plainStream is a raft.StreamLayer over plain TCP.
type plainStream struct{ net.Listener }

func (s plainStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}
