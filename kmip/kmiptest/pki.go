package kmiptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// PKI is an in-memory certificate authority for server tests: a server
// certificate for localhost and 127.0.0.1, and client certificates on demand.
//
// cmd/internal/devpki cannot be imported from kmip/ (Go's internal-package
// rule limits it to cmd/), so the same shapes are built here.
type PKI struct {
	t      testing.TB
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

// NewPKI creates a CA and a server certificate signed by it.
func NewPKI(t testing.TB, name string) *PKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	cert := sign(t, tmpl, nil, key, &key.PublicKey)
	p := &PKI{t: t, cert: cert, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(cert)
	p.server = p.leaf(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kmsd"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	return p
}

// ServerTLS requires and verifies client certificates from this CA.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
	}
}

// ClientTLS trusts this CA and presents a certificate with Common Name cn;
// with cn empty it presents none.
func (p *PKI) ClientTLS(cn string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.pool, ServerName: "localhost"}
	if cn != "" {
		cfg.Certificates = []tls.Certificate{p.ClientCert(cn)}
	}
	return cfg
}

// ClientCert issues a client certificate with Common Name cn.
func (p *PKI) ClientCert(cn string) tls.Certificate {
	return p.leaf(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"test"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (p *PKI) leaf(tmpl *x509.Certificate) tls.Certificate {
	p.t.Helper()
	key := newKey(p.t)
	cert := sign(p.t, tmpl, p, key, &key.PublicKey)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign issues tmpl, self-signed when ca is nil.
func sign(t testing.TB, tmpl *x509.Certificate, ca *PKI, key *ecdsa.PrivateKey, pub *ecdsa.PublicKey) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
