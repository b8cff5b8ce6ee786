package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

const (
	dialTimeout      = 5 * time.Second
	roundtripTimeout = 10 * time.Second
	kmsctlTimeout    = 60 * time.Second
	maxMessage       = 16 << 20
)

// TLSConfig returns a client TLS configuration with the dev client
// certificate, trusting only the dev CA.
func (n *Node) TLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := n.tlsConfig(n.PKI.ClientCert, n.PKI.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (n *Node) tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(n.PKI.CA)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("harness: no certificate in %s", n.PKI.CA)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	// The server name is taken from the address (127.0.0.1): the dev
	// server certificate must carry that IP.
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Dial opens a mutual-TLS connection to the KMIP port, closed by t.Cleanup.
func (n *Node) Dial(t testing.TB) *tls.Conn {
	t.Helper()
	conn, err := n.dial(n.TLSConfig(t))
	if err != nil {
		t.Fatalf("harness: dial %s: %v", n.Name, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (n *Node) dial(cfg *tls.Config) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: dialTimeout}, "tcp", n.KMIPAddr, cfg)
}

// Roundtrip sends one binary TTLV message on a new connection and returns
// the one message read back (8-byte header, then its length).
func (n *Node) Roundtrip(t testing.TB, req []byte) []byte {
	t.Helper()
	conn, err := n.dial(n.TLSConfig(t))
	if err != nil {
		t.Fatalf("harness: dial %s: %v", n.Name, err)
	}
	defer func() { _ = conn.Close() }()
	resp, err := Exchange(conn, req, roundtripTimeout)
	if err != nil {
		t.Fatalf("harness: roundtrip with %s: %v", n.Name, err)
	}
	return resp
}

// Exchange writes one binary TTLV message on conn and reads one message
// back (8-byte header, then its length), all within timeout.
func Exchange(conn net.Conn, req []byte, timeout time.Duration) ([]byte, error) {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return nil, err
	}
	length := binary.BigEndian.Uint32(hdr[4:])
	if length > maxMessage {
		return nil, fmt.Errorf("response of %d bytes", length)
	}
	msg := make([]byte, 8+int(length))
	copy(msg, hdr)
	_, err := io.ReadFull(conn, msg[8:])
	return msg, err
}

// probe sends Discover Versions: the node is ready when it answers, or when
// it answers that it is sealed (it then waits for an operator); a node that
// is still starting answers "temporarily unavailable" and is not ready.
func (n *Node) probe() error {
	cfg, err := n.tlsConfig(n.PKI.ClientCert, n.PKI.ClientKey)
	if err != nil {
		return err // the PKI is not written yet
	}
	conn, err := n.dial(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	msg := kmip.NewRequestMessage(kmip.V1_4, &payloads.DiscoverVersionsRequestPayload{})
	resp, err := Exchange(conn, ttlv.MarshalTTLV(&msg), 2*time.Second)
	if err != nil {
		return err
	}
	if tag := int(resp[0])<<16 | int(resp[1])<<8 | int(resp[2]); tag != kmip.TagResponseMessage {
		return fmt.Errorf("answer to Discover Versions has tag %s", ttlv.TagString(tag))
	}
	var rm kmip.ResponseMessage
	if err := ttlv.UnmarshalTTLV(resp, &rm); err != nil {
		return fmt.Errorf("answer to Discover Versions: %w", err)
	}
	if len(rm.BatchItem) == 1 && rm.BatchItem[0].ResultStatus != kmip.ResultStatusSuccess &&
		!strings.Contains(rm.BatchItem[0].ResultMessage, "sealed") {
		return fmt.Errorf("not serving yet: %s", rm.BatchItem[0].ResultMessage)
	}
	return nil
}

// Client returns an ovh/kmip-go client with the dev client certificate,
// closed by t.Cleanup. opts come after the defaults and may override them.
func (n *Node) Client(t testing.TB, opts ...kmipclient.Option) *kmipclient.Client {
	t.Helper()
	all := append([]kmipclient.Option{
		kmipclient.WithRootCAFile(n.PKI.CA),
		kmipclient.WithClientCertFiles(n.PKI.ClientCert, n.PKI.ClientKey),
	}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), roundtripTimeout)
	defer cancel()
	c, err := kmipclient.DialContext(ctx, n.KMIPAddr, all...)
	if err != nil {
		t.Fatalf("harness: kmip client for %s: %v", n.Name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kmsctl runs kmsctl with --server, --ca, --admin-ca, --cert and --key (the
// dev client identity) before args. It returns stdout; err carries stderr.
func (n *Node) Kmsctl(t testing.TB, args ...string) (stdout string, err error) {
	t.Helper()
	return n.kmsctl(t, n.PKI.ClientCert, n.PKI.ClientKey, args)
}

// KmsctlAdmin is Kmsctl with the dev admin identity.
func (n *Node) KmsctlAdmin(t testing.TB, args ...string) (stdout string, err error) {
	t.Helper()
	return n.kmsctl(t, n.PKI.AdminCert, n.PKI.AdminKey, args)
}

// KmsctlAs is Kmsctl with another certificate and key.
func (n *Node) KmsctlAs(t testing.TB, cert, key string, args ...string) (stdout string, err error) {
	t.Helper()
	return n.kmsctl(t, cert, key, args)
}

func (n *Node) kmsctl(t testing.TB, cert, key string, args []string) (string, error) {
	t.Helper()
	bin := kmsctlBinary(t)
	full := append([]string{"--server", n.KMIPAddr, "--ca", n.PKI.CA, "--admin-ca", n.PKI.NodeCA, "--cert", cert, "--key", key}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), kmsctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	t.Logf("kmsctl %s: %v", strings.Join(args, " "), exitStatus(runErr))
	if runErr != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			runErr = fmt.Errorf("timed out after %s: %w", kmsctlTimeout, runErr)
		}
		return out.String(), fmt.Errorf("kmsctl %s: %w\n%s", strings.Join(args, " "), runErr, errOut.String())
	}
	return out.String(), nil
}
