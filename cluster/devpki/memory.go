package devpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
)

// Authority is a CA held in memory, for tests that need certificates of
// several organizations without writing files.
type Authority struct {
	ca   authority
	pool *x509.CertPool
}

// NewAuthority creates a CA with the given common name.
func NewAuthority(cn string) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := caTemplate(cn)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("devpki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &Authority{ca: authority{cert: cert, key: key}, pool: pool}, nil
}

// Pool trusts this CA.
func (a *Authority) Pool() *x509.CertPool { return a.pool }

// Issue signs a certificate for servers and clients with the given common
// name and organizations, valid for localhost, 127.0.0.1, ::1 and hosts.
func (a *Authority) Issue(cn string, orgs []string, hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := serverTemplate(hosts)
	tmpl.Subject = pkix.Name{CommonName: cn, Organization: orgs}
	if err := setValidity(tmpl, leafValidity); err != nil {
		return tls.Certificate{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca.cert, key.Public(), a.ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devpki: issue %q: %w", cn, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS serves cert and requires client certificates from this CA.
func (a *Authority) ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    a.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// ClientTLS presents cert (none when it is empty) and trusts this CA.
func (a *Authority) ClientTLS(cert tls.Certificate) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: a.pool}
	if len(cert.Certificate) > 0 {
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}
