package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// adminClient connects to the gRPC port with a certificate.
func adminClient(t *testing.T, pki devpki.Paths, addr, certFile, keyFile string) adminpb.AdminClient {
	t.Helper()
	cfg, err := devpki.ClientTLS(pki.NodeCACert, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminpb.NewAdminClient(conn)
}

// kmipConn dials the KMIP port with a certificate and runs a Query on the
// connection: a TLS 1.3 server refuses a client certificate after the
// client's side of the handshake, so only a first exchange tells.
func kmipConn(pki devpki.Paths, addr, certFile, keyFile string) (*tls.Conn, error) {
	cfg, err := devpki.ClientTLS(pki.CACert, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	req := kmip.NewRequestMessage(kmip.V1_2, &payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}})
	if _, err := kmiptest.RoundTrip(conn, ttlv.MarshalTTLV(&req), 5*time.Second); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// waitClosed fails unless the peer closes conn within a few seconds.
func waitClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s is still open 5s after the revocation", what)
	}
}

func readPEM(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostRevokesCertificates runs the deny list end to end on one node:
// an operator revokes a KMIP client certificate, whose open connection is
// closed and whose new handshakes fail, while callers that are not
// operators may not; a CRL from the admin CA cuts off an operator; a CRL of
// a CA the cluster does not trust is refused.
func TestHostRevokesCertificates(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	h := serveHost(t, cfg)
	ctx := t.Context()
	pki := devpki.PathsIn(filepath.Join(filepath.Dir(cfg.DataDir), "pki"))
	grpcAddr := h.grpcLn.Addr().String()
	op := adminClient(t, pki, grpcAddr, pki.AdminCert, pki.AdminKey)

	open, err := kmipConn(pki, h.kmipAddr, pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatalf("KMIP before any revocation: %v", err)
	}
	defer open.Close()

	clientPEM := readPEM(t, pki.ClientCert)
	revokeClient := &adminpb.RevokeCertificateRequest{Certificate: &adminpb.RevokeCertificateRequest_CertificatePem{CertificatePem: clientPEM}, Reason: "laptop lost"}
	// Callers that are not operators: a node certificate is refused by
	// the admin rule, a KMIP client certificate by the gRPC port's TLS.
	nodeCaller := adminClient(t, pki, grpcAddr, pki.NodeCert("node-1"), pki.NodeKey("node-1"))
	kmipCaller := adminClient(t, pki, grpcAddr, pki.ClientCert, pki.ClientKey)
	for name, c := range map[string]adminpb.AdminClient{"node": nodeCaller, "KMIP client": kmipCaller} {
		if _, err := c.RevokeCertificate(ctx, revokeClient); status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.Unavailable {
			t.Errorf("RevokeCertificate by a %s certificate: %v", name, err)
		}
		if _, err := c.ImportCRL(ctx, &adminpb.ImportCRLRequest{Crl: []byte("x")}); status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.Unavailable {
			t.Errorf("ImportCRL by a %s certificate: %v", name, err)
		}
		if _, err := c.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{}); status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.Unavailable {
			t.Errorf("ListRevokedCertificates by a %s certificate: %v", name, err)
		}
	}
	if _, err := nodeCaller.RevokeCertificate(ctx, revokeClient); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a node certificate on the gRPC port: %v, want PermissionDenied", err)
	}
	if list, err := op.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{}); err != nil || len(list.GetEntries()) != 0 {
		t.Fatalf("after refused calls: %v %v", list, err)
	}

	resp, err := op.RevokeCertificate(ctx, revokeClient)
	if err != nil || !resp.GetAdded() {
		t.Fatalf("RevokeCertificate: %v %v", resp, err)
	}
	waitClosed(t, open, "the KMIP connection of the revoked certificate")
	if c, err := kmipConn(pki, h.kmipAddr, pki.ClientCert, pki.ClientKey); err == nil {
		c.Close()
		t.Fatal("a new KMIP connection with the revoked certificate works")
	}
	if resp, err := op.RevokeCertificate(ctx, revokeClient); err != nil || resp.GetAdded() {
		t.Fatalf("revoking again: %v %v, want success without adding", resp, err)
	}
	list, err := op.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{})
	if err != nil || len(list.GetEntries()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if e := list.GetEntries()[0]; e.GetReason() != "laptop lost" || e.GetRevokedBy() == "" || e.GetRevokedUnixNano() == 0 || len(e.GetFingerprintSha256()) != 32 {
		t.Errorf("entry %v", e)
	}

	// A second operator, cut off by a CRL of the admin CA.
	ca, err := devpki.LoadAuthority(pki.AdminCACert, pki.AdminCAKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writeIssued(t, pki.AdminCACert, pki.AdminCAKey, "second operator", "kmsd-admins")
	second := adminClient(t, pki, grpcAddr, certFile, keyFile)
	if _, err := second.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{}); err != nil {
		t.Fatalf("second operator before the CRL: %v", err)
	}
	tracked := h.guard.Conns.Len()
	crl := crlFor(t, ca, readLeaf(t, certFile).SerialNumber)
	imp, err := op.ImportCRL(ctx, &adminpb.ImportCRLRequest{Crl: crl})
	if err != nil || imp.GetListed() != 1 || imp.GetAdded() != 1 {
		t.Fatalf("ImportCRL: %v %v", imp, err)
	}
	waitFor(t, func() bool { return h.guard.Conns.Len() == tracked-1 }, "the second operator's connection closed")
	if _, err := second.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{}); err == nil {
		t.Fatal("the operator a CRL revoked still calls the admin API")
	}

	stranger, err := devpki.NewAuthority("stranger")
	if err != nil {
		t.Fatal(err)
	}
	_, err = op.ImportCRL(ctx, &adminpb.ImportCRLRequest{Crl: crlFor(t, stranger, big.NewInt(7))})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not signed by a CA this cluster trusts") {
		t.Fatalf("CRL of an untrusted CA: %v", err)
	}
	if _, err := op.ImportCRL(ctx, &adminpb.ImportCRLRequest{Crl: []byte("garbage")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("garbage CRL: %v", err)
	}
	if _, err := op.RevokeCertificate(ctx, &adminpb.RevokeCertificateRequest{Certificate: &adminpb.RevokeCertificateRequest_FingerprintSha256{FingerprintSha256: []byte{1}}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("short fingerprint: %v", err)
	}
}

// crlFor is a CRL signed by ca that lists serials.
func crlFor(t *testing.T, ca *devpki.Authority, serials ...*big.Int) []byte {
	t.Helper()
	der, err := ca.CRL(serials...)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a log sink for tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestHostSaysItsOwnCertificateIsRevoked: a node whose own node
// certificate is revoked (here by issuer and serial, as a CRL names it)
// logs what the operator must do.
func TestHostSaysItsOwnCertificateIsRevoked(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := start(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.shutdown()
	waitServing(t, h)
	m := cfg.TLS.material()
	added, err := h.RevokeCertificates(ctx, []denylist.Entry{denylist.ForSerial(m.nodeCAs[0], m.nodeCert.Leaf.SerialNumber, "test")}, "operator")
	if err != nil || added != 1 {
		t.Fatalf("RevokeCertificates: %d %v", added, err)
	}
	waitFor(t, func() bool {
		return strings.Contains(logs.String(), "own node certificate is on the cluster's deny list")
	}, "the node logs its revoked certificate")
	if strings.Contains(logs.String(), "own KMIP server certificate") {
		t.Error("the KMIP server certificate is reported revoked too")
	}
}
