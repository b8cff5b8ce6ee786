package admin

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// RevocationControl is what the deny-list RPCs need from the node. actor
// names the operator.
type RevocationControl interface {
	// RevokeCertificates adds entries in one command and returns how many
	// were not listed yet.
	RevokeCertificates(ctx context.Context, entries []denylist.Entry, actor string) (added int, err error)
	// RevokedCertificates lists the deny list after a read barrier.
	RevokedCertificates(ctx context.Context) ([]denylist.Entry, error)
	// TrustedCAs are the CAs of the KMIP client, operator and node
	// domains: one of them must have signed an imported CRL.
	TrustedCAs() []*x509.Certificate
}

// maxCertPEM bounds a certificate given in PEM.
const maxCertPEM = 64 << 10

// Page sizes of ListRevokedCertificates: a page of the largest size stays
// well below gRPC's default message limit of 4 MiB.
const (
	defaultListLimit = 1000
	maxListLimit     = 10_000
)

func (s *Server) revocation() (RevocationControl, error) {
	if s.cfg.Revocation == nil {
		return nil, status.Error(codes.Unimplemented, "this node keeps no certificate deny list")
	}
	return s.cfg.Revocation, nil
}

// RevokeCertificate implements adminpb.AdminServer.
func (s *Server) RevokeCertificate(ctx context.Context, req *adminpb.RevokeCertificateRequest) (*adminpb.RevokeCertificateResponse, error) {
	rc, err := s.revocation()
	if err != nil {
		return nil, err
	}
	e, err := requestedEntry(req)
	if err != nil {
		return nil, err
	}
	added, err := rc.RevokeCertificates(ctx, []denylist.Entry{e}, caller(ctx))
	if err != nil {
		return nil, s.revocationStatus(ctx, "RevokeCertificate", err)
	}
	s.logger.Warn("certificate revoked", "caller", caller(ctx), "entry", e.Key(), "reason", e.Reason, "added", added == 1)
	return &adminpb.RevokeCertificateResponse{Entry: revokedToProto(e), Added: added == 1}, nil
}

// requestedEntry turns the request into a deny-list entry; every field is
// checked for length.
func requestedEntry(req *adminpb.RevokeCertificateRequest) (denylist.Entry, error) {
	if len(req.GetReason()) > denylist.MaxReasonLen {
		return denylist.Entry{}, status.Errorf(codes.InvalidArgument, "the reason is at most %d bytes", denylist.MaxReasonLen)
	}
	var e denylist.Entry
	switch c := req.GetCertificate().(type) {
	case *adminpb.RevokeCertificateRequest_CertificatePem:
		cert, err := parseCertPEM(c.CertificatePem)
		if err != nil {
			return e, status.Error(codes.InvalidArgument, "certificate_pem: "+err.Error())
		}
		e = denylist.ForCertificate(cert, req.GetReason())
	case *adminpb.RevokeCertificateRequest_FingerprintSha256:
		if len(c.FingerprintSha256) != sha256.Size {
			return e, status.Error(codes.InvalidArgument, "a fingerprint is the 32-byte SHA-256 of the certificate")
		}
		e = denylist.Entry{Fingerprint: c.FingerprintSha256, Reason: req.GetReason()}
	case *adminpb.RevokeCertificateRequest_IssuerSerial:
		issuer, err := parseCertPEM(c.IssuerSerial.GetIssuerPem())
		if err != nil {
			return e, status.Error(codes.InvalidArgument, "issuer_pem: "+err.Error())
		}
		if !issuer.IsCA {
			return e, status.Error(codes.InvalidArgument, "issuer_pem is not a CA certificate")
		}
		serial := c.IssuerSerial.GetSerial()
		if len(serial) == 0 || len(serial) > denylist.MaxSerialLen {
			return e, status.Errorf(codes.InvalidArgument, "a serial number is 1 to %d bytes", denylist.MaxSerialLen)
		}
		e = denylist.ForSerial(issuer, new(big.Int).SetBytes(serial), req.GetReason())
	default:
		return e, status.Error(codes.InvalidArgument, "name the certificate: certificate_pem, fingerprint_sha256 or issuer_serial")
	}
	if err := e.Validate(); err != nil {
		return e, status.Error(codes.InvalidArgument, "invalid deny-list entry")
	}
	return e, nil
}

var (
	errNotOneCert = errors.New("want one PEM CERTIFICATE block")
	errCertTooBig = errors.New("larger than 64 KiB")
)

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	if len(data) > maxCertPEM {
		return nil, errCertTooBig
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errNotOneCert
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("not a certificate")
	}
	return cert, nil
}

// ListRevokedCertificates implements adminpb.AdminServer.
func (s *Server) ListRevokedCertificates(ctx context.Context, req *adminpb.ListRevokedCertificatesRequest) (*adminpb.ListRevokedCertificatesResponse, error) {
	rc, err := s.revocation()
	if err != nil {
		return nil, err
	}
	limit := int64(req.GetLimit())
	if limit < 0 || limit > maxListLimit || req.GetOffset() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "offset must not be negative, limit is 0 (%d) to %d", defaultListLimit, maxListLimit)
	}
	if limit == 0 {
		limit = defaultListLimit
	}
	entries, err := rc.RevokedCertificates(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "ListRevokedCertificates", err)
	}
	resp := &adminpb.ListRevokedCertificatesResponse{Total: int64(len(entries))}
	start := min(req.GetOffset(), int64(len(entries)))
	for _, e := range entries[start:min(start+limit, int64(len(entries)))] {
		resp.Entries = append(resp.Entries, revokedToProto(e))
	}
	return resp, nil
}

// ImportCRL implements adminpb.AdminServer.
func (s *Server) ImportCRL(ctx context.Context, req *adminpb.ImportCRLRequest) (*adminpb.ImportCRLResponse, error) {
	rc, err := s.revocation()
	if err != nil {
		return nil, err
	}
	if len(req.GetReason()) > denylist.MaxReasonLen {
		return nil, status.Errorf(codes.InvalidArgument, "the reason is at most %d bytes", denylist.MaxReasonLen)
	}
	entries, err := denylist.ParseCRL(req.GetCrl(), rc.TrustedCAs(), req.GetReason())
	if err != nil {
		// ParseCRL's errors are fixed texts, written for operators.
		s.logger.Warn("CRL refused", "caller", caller(ctx), "err", err)
		return nil, status.Error(codes.InvalidArgument, strings.TrimPrefix(err.Error(), "denylist: "))
	}
	resp := &adminpb.ImportCRLResponse{Listed: int64(len(entries))}
	if len(entries) == 0 {
		return resp, nil
	}
	resp.IssuerSha256 = entries[0].Issuer
	added, err := rc.RevokeCertificates(ctx, entries, caller(ctx))
	if err != nil {
		return nil, s.revocationStatus(ctx, "ImportCRL", err)
	}
	resp.Added = int64(added)
	s.logger.Warn("CRL imported", "caller", caller(ctx), "listed", len(entries), "added", added)
	return resp, nil
}

func (s *Server) revocationStatus(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, denylist.ErrListFull):
		return status.Error(codes.ResourceExhausted, "the certificate deny list is full")
	case errors.Is(err, denylist.ErrInvalidEntry):
		return status.Error(codes.InvalidArgument, "invalid deny-list entry")
	}
	return s.toStatus(ctx, method, err)
}

func revokedToProto(e denylist.Entry) *adminpb.RevokedCertificate {
	p := &adminpb.RevokedCertificate{
		FingerprintSha256: e.Fingerprint, IssuerSha256: e.Issuer, Serial: e.Serial,
		Reason: e.Reason, RevokedBy: e.RevokedBy,
	}
	if !e.Revoked.IsZero() {
		p.RevokedUnixNano = e.Revoked.UnixNano()
	}
	if !e.NotAfter.IsZero() {
		p.NotAfterUnixNano = e.NotAfter.UnixNano()
	}
	return p
}

// RevokedFromProto is the inverse of the listing's conversion, for clients.
func RevokedFromProto(p *adminpb.RevokedCertificate) denylist.Entry {
	e := denylist.Entry{Fingerprint: p.GetFingerprintSha256(), Issuer: p.GetIssuerSha256(), Serial: p.GetSerial(),
		Reason: p.GetReason(), RevokedBy: p.GetRevokedBy()}
	if ns := p.GetRevokedUnixNano(); ns != 0 {
		e.Revoked = time.Unix(0, ns).UTC()
	}
	if ns := p.GetNotAfterUnixNano(); ns != 0 {
		e.NotAfter = time.Unix(0, ns).UTC()
	}
	return e
}
