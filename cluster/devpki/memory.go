package devpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

// Authority is a CA held in memory, for tests that need certificates of
// several organizations and trust domains without writing files.
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
	return newAuthority(authority{cert: cert, key: key}), nil
}

// LoadAuthority reads a CA certificate and its key, such as ca.pem and
// ca.key of an Ensure'd folder, so that a test can issue more certificates
// from it.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	ca, err := loadCA(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return newAuthority(*ca), nil
}

func newAuthority(ca authority) *Authority {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &Authority{ca: ca, pool: pool}
}

// Pool trusts this CA.
func (a *Authority) Pool() *x509.CertPool { return a.pool }

// Cert is the CA certificate, a trust anchor.
func (a *Authority) Cert() *x509.Certificate { return a.ca.cert }

// Issue signs a certificate for servers and clients with the given common
// name and organizations, valid for localhost, 127.0.0.1, ::1 and hosts.
func (a *Authority) Issue(cn string, orgs []string, hosts ...string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: orgs},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	addHosts(tmpl, hosts)
	return a.issue(tmpl)
}

// IssueUnits is Issue with organizational units (Subject OU) as well: the
// admin API reads an operator's role from them.
func (a *Authority) IssueUnits(cn string, orgs, units []string, hosts ...string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: orgs, OrganizationalUnit: units},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	addHosts(tmpl, hosts)
	return a.issue(tmpl)
}

// IssueNode signs a node certificate for node id, as EnsureNode writes one:
// Common Name id, Organization kmsd-nodes, URI SAN urn:kmsd:node:<id>,
// valid for localhost, 127.0.0.1, ::1 and hosts, for servers and clients.
func (a *Authority) IssueNode(id string, hosts ...string) (tls.Certificate, error) {
	if err := cluster.ValidNodeID(id); err != nil {
		return tls.Certificate{}, fmt.Errorf("devpki: node id %q: %w", id, err)
	}
	return a.issue(nodeTemplate(id, hosts))
}

func (a *Authority) issue(tmpl *x509.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := setValidity(tmpl, leafValidity); err != nil {
		return tls.Certificate{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.ca.cert, key.Public(), a.ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devpki: issue %q: %w", tmpl.Subject.CommonName, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS serves cert and requires client certificates from this CA.
func (a *Authority) ServerTLS(cert tls.Certificate) *tls.Config {
	return ServerConfig(cert, a.pool)
}

// ClientTLS presents cert (none when it is empty) and trusts this CA.
func (a *Authority) ClientTLS(cert tls.Certificate) *tls.Config {
	return ClientConfig(cert, a.pool)
}

// CRL signs a certificate revocation list (DER) that lists serials,
// valid for a day.
func (a *Authority) CRL(serials ...*big.Int) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, a.ca.cert, a.ca.key)
}
