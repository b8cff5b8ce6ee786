package admin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// CertificateAuthority is the cluster's CA for client certificates.
type CertificateAuthority interface {
	// Authority returns the CA chain (the CA first), nil when none is set;
	// as of a read index.
	Authority(ctx context.Context) ([]*x509.Certificate, error)
	// SetAuthority seals the CA's PKCS#8 key and replicates it with the
	// chain.
	SetAuthority(ctx context.Context, chain []*x509.Certificate, pkcs8 []byte, actor string) error
	// AuthorityKey opens the CA key for one signing.
	AuthorityKey(ctx context.Context) (crypto.Signer, error)
	// Record records an issued certificate and sets its binding.
	Record(ctx context.Context, ic *kmsdpb.IssuedCertificate, binding *kmsdpb.PolicyEntry, actor string) error
	// Issued lists the issued certificates, as of a read index.
	Issued(ctx context.Context) ([]*kmsdpb.IssuedCertificate, error)
	// ClientCAs are the CAs the KMIP port trusts for clients.
	ClientCAs() *x509.CertPool
}

// Issuing limits.
const (
	DefaultValidity = 365 * 24 * time.Hour
	MaxValidity     = 5 * 365 * 24 * time.Hour
	maxDNSNames     = 100
	maxPEM          = 64 << 10
	// backdate covers clocks a little behind ours.
	backdate = 5 * time.Minute
)

func (s *Server) pki() (CertificateAuthority, error) {
	if s.cfg.PKI == nil {
		return nil, status.Error(codes.Unimplemented, "this node issues no certificates")
	}
	return s.cfg.PKI, nil
}

// SetCertificateAuthority implements adminpb.AdminServer. The CA must be
// trusted by the KMIP port's client CA bundle, or the certificates it
// issued would be refused.
func (s *Server) SetCertificateAuthority(ctx context.Context, req *adminpb.SetCertificateAuthorityRequest) (*adminpb.SetCertificateAuthorityResponse, error) {
	ca, err := s.pki()
	if err != nil {
		return nil, err
	}
	if len(req.GetCertificatePem()) > maxPEM || len(req.GetKeyPem()) > maxPEM {
		return nil, status.Errorf(codes.InvalidArgument, "PEM input larger than %d bytes", maxPEM)
	}
	chain, err := pemCertificates(req.GetCertificatePem())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	key, pkcs8, err := pemPrivateKey(req.GetKeyPem())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	defer clear(pkcs8)
	leaf := chain[0]
	if !leaf.IsCA || leaf.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, status.Error(codes.InvalidArgument, "the certificate is not a CA certificate (basic constraints CA and key usage Certificate Sign)")
	}
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return nil, status.Error(codes.InvalidArgument, "the key does not belong to the CA certificate")
	}
	now := time.Now()
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, status.Error(codes.InvalidArgument, "the CA certificate is not valid now")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.ClientCAs(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, status.Error(codes.FailedPrecondition,
			"the KMIP port's client CA bundle (--client-ca) does not trust this CA, so clients with its certificates would be refused; give a CA or intermediate that chains to it")
	}
	if err := ca.SetAuthority(ctx, chain, pkcs8, caller(ctx)); err != nil {
		return nil, s.pkiStatus(ctx, "SetCertificateAuthority", err)
	}
	s.logger.Info("certificate authority set", "subject", leaf.Subject.String(), "caller", caller(ctx))
	return &adminpb.SetCertificateAuthorityResponse{Fingerprint: policy.Fingerprint(leaf), Subject: leaf.Subject.String(), NotAfterUnixNano: leaf.NotAfter.UnixNano()}, nil
}

// IssueCertificate implements adminpb.AdminServer.
func (s *Server) IssueCertificate(ctx context.Context, req *adminpb.IssueCertificateRequest) (*adminpb.IssueCertificateResponse, error) {
	ca, err := s.pki()
	if err != nil {
		return nil, err
	}
	if err := policy.CheckTenant(req.GetTenant()); err != nil {
		return nil, status.Error(codes.InvalidArgument, policyText(err))
	}
	if len(req.GetDnsNames()) > maxDNSNames || len(req.GetCsrPem()) > maxPEM || len(req.GetCommonName()) > 64 {
		return nil, status.Errorf(codes.InvalidArgument, "at most %d DNS names, a Common Name of at most 64 characters and a CSR of at most %d bytes", maxDNSNames, maxPEM)
	}
	validity := time.Duration(req.GetValidityNanos())
	switch {
	case validity == 0:
		validity = DefaultValidity
	case validity < time.Hour || validity > MaxValidity:
		return nil, status.Errorf(codes.InvalidArgument, "validity must be between 1h and %v", MaxValidity)
	}
	chain, err := ca.Authority(ctx)
	if err != nil {
		return nil, s.pkiStatus(ctx, "IssueCertificate", err)
	}
	if len(chain) == 0 {
		return nil, status.Error(codes.FailedPrecondition, "the cluster has no certificate authority; set one with `kmsctl pki ca set --ca-cert CA.pem --ca-key CA.key`")
	}
	tmpl, pub, keyPEM, err := issueTemplate(req)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-backdate), now.Add(validity)
	if tmpl.NotAfter.After(chain[0].NotAfter) {
		tmpl.NotAfter = chain[0].NotAfter
	}
	bindingName := req.GetBinding()
	if bindingName == "" {
		bindingName = "pki-" + tmpl.Subject.CommonName
	}
	binding := &kmsdpb.PolicyEntry{Name: bindingName, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{
		Identities: []*kmsdpb.IdentityMatch{{Ca: policy.Fingerprint(chain[0]), CommonName: tmpl.Subject.CommonName}},
		Tenant:     req.GetTenant(), Role: req.GetRole(),
	}}}
	if err := s.checkBinding(ctx, binding); err != nil {
		return nil, err
	}
	key, err := ca.AuthorityKey(ctx)
	if err != nil {
		return nil, s.pkiStatus(ctx, "IssueCertificate", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, chain[0], pub, key)
	if err != nil {
		s.logger.Error("cannot sign a certificate", "err", err)
		return nil, status.Error(codes.Internal, "the certificate could not be signed")
	}
	sum := sha256.Sum256(der)
	rec := &kmsdpb.IssuedCertificate{
		Serial: hex.EncodeToString(tmpl.SerialNumber.Bytes()), Fingerprint: hex.EncodeToString(sum[:]),
		CommonName: tmpl.Subject.CommonName, Tenant: req.GetTenant(), Role: req.GetRole(),
		NotAfterUnixNano: tmpl.NotAfter.UnixNano(), Binding: bindingName, Certificate: der,
	}
	if err := ca.Record(ctx, rec, binding, caller(ctx)); err != nil {
		return nil, s.pkiStatus(ctx, "IssueCertificate", err)
	}
	var certPEM bytes.Buffer
	_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, c := range chain {
		_ = pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	s.logger.Info("certificate issued", "serial", rec.Serial, "common_name", rec.CommonName, "tenant", rec.Tenant, "role", rec.Role, "caller", caller(ctx))
	return &adminpb.IssueCertificateResponse{CertificatePem: certPEM.Bytes(), KeyPem: keyPEM, Record: rec}, nil
}

// checkBinding checks a binding against the current policy, as SetPolicy
// does, before anything is signed.
func (s *Server) checkBinding(ctx context.Context, binding *kmsdpb.PolicyEntry) error {
	ap, err := s.accessPolicy()
	if err != nil {
		return err
	}
	cur, err := ap.PolicyEntries(ctx)
	if err != nil {
		return s.toStatus(ctx, "IssueCertificate", err)
	}
	if _, err := policy.Compile(merged(cur, []*kmsdpb.PolicyEntry{binding})); err != nil {
		return status.Error(codes.InvalidArgument, policyText(err))
	}
	return nil
}

// issueTemplate is the certificate to sign: from a CSR, whose signature
// must verify, or for a new P-256 key, returned as PKCS#8 PEM.
func issueTemplate(req *adminpb.IssueCertificateRequest) (*x509.Certificate, crypto.PublicKey, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, err
	}
	serial.SetBit(serial, 126, 1) // a positive serial of fixed length
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.GetCommonName()},
		DNSNames:     req.GetDnsNames(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	var pub crypto.PublicKey
	var keyPEM []byte
	if len(req.GetCsrPem()) > 0 {
		block, _ := pem.Decode(req.GetCsrPem())
		if block == nil || block.Type != "CERTIFICATE REQUEST" {
			return nil, nil, nil, status.Error(codes.InvalidArgument, "the CSR is not a PEM CERTIFICATE REQUEST")
		}
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, nil, nil, status.Error(codes.InvalidArgument, "the CSR does not parse")
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, nil, nil, status.Error(codes.InvalidArgument, "the CSR's signature does not verify")
		}
		pub = csr.PublicKey
		if tmpl.Subject.CommonName == "" {
			tmpl.Subject.CommonName = csr.Subject.CommonName
		}
		if len(tmpl.DNSNames) == 0 {
			tmpl.DNSNames = csr.DNSNames
		}
		if _, isRSA := pub.(*rsa.PublicKey); isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, nil, nil, err
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		clear(der)
		pub = k.Public()
	}
	if tmpl.Subject.CommonName == "" {
		return nil, nil, nil, status.Error(codes.InvalidArgument, "a Common Name is required (--cn, or in the CSR)")
	}
	if len(tmpl.DNSNames) > maxDNSNames {
		return nil, nil, nil, status.Errorf(codes.InvalidArgument, "at most %d DNS names", maxDNSNames)
	}
	return tmpl, pub, keyPEM, nil
}

// ListCertificates implements adminpb.AdminServer.
func (s *Server) ListCertificates(ctx context.Context, _ *adminpb.ListCertificatesRequest) (*adminpb.ListCertificatesResponse, error) {
	ca, err := s.pki()
	if err != nil {
		return nil, err
	}
	chain, err := ca.Authority(ctx)
	if err != nil {
		return nil, s.pkiStatus(ctx, "ListCertificates", err)
	}
	issued, err := ca.Issued(ctx)
	if err != nil {
		return nil, s.pkiStatus(ctx, "ListCertificates", err)
	}
	resp := &adminpb.ListCertificatesResponse{Certificates: issued}
	if len(chain) > 0 {
		resp.AuthorityFingerprint, resp.AuthoritySubject = policy.Fingerprint(chain[0]), chain[0].Subject.String()
	}
	return resp, nil
}

func (s *Server) pkiStatus(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, fsm.ErrNoAuthority):
		return status.Error(codes.FailedPrecondition, "the cluster has no certificate authority; set one with `kmsctl pki ca set`")
	case errors.Is(err, fsm.ErrTooManyCertificates):
		return status.Error(codes.ResourceExhausted, "the cluster has issued as many certificates as it records")
	case errors.Is(err, fsm.ErrExists):
		return status.Error(codes.Aborted, "a certificate with this serial exists; try again")
	}
	return s.policyStatus(ctx, method, err)
}

func pemCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(out) <= fsmMaxChain {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("a PEM certificate does not parse")
		}
		out = append(out, c)
	}
	if len(out) == 0 || len(out) > fsmMaxChain {
		return nil, fmt.Errorf("give the CA certificate and its chain: 1 to %d PEM certificates", fsmMaxChain)
	}
	return out, nil
}

// fsmMaxChain is the longest chain the state machine stores.
const fsmMaxChain = 8

// pemPrivateKey parses a PKCS#8, PKCS#1 or SEC 1 PEM key and returns it
// with its PKCS#8 form.
func pemPrivateKey(data []byte) (crypto.Signer, []byte, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, nil, errors.New("the key is not PEM")
	}
	defer clear(block.Bytes)
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, nil, fmt.Errorf("unsupported PEM key type %q", block.Type)
	}
	if err != nil {
		return nil, nil, errors.New("the key does not parse")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("the key cannot sign")
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, errors.New("the key cannot be stored")
	}
	return signer, pkcs8, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
