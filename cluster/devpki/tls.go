package devpki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// ServerTLS returns the KMIP listener's tls.Config for these files:
// ServerConfig's versions and suites, the KMIP server certificate, client certificates
// required and verified against the KMIP CA (ca.pem).
func ServerTLS(p Paths) (*tls.Config, error) {
	pool, err := LoadCAPool(p.CACert)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("devpki: load server certificate: %w", err)
	}
	return ServerConfig(cert, pool), nil
}

// ClientTLS returns a tls.Config for a client using the given cert/key files
// and trusting caFile. With certFile and keyFile both empty the client
// presents no certificate.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	if certFile == "" && keyFile == "" {
		return ClientConfig(tls.Certificate{}, pool), nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("devpki: load client certificate: %w", err)
	}
	return ClientConfig(cert, pool), nil
}

// CipherSuites are the TLS 1.2 suites of every port and of kmsctl: ECDHE
// key exchange with an AEAD (AES-GCM, ChaCha20-Poly1305). TLS 1.3, which
// both sides prefer when they can, has AEAD suites only (crypto/tls does
// not let them be configured).
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// LegacyCipherSuites are the TLS 1.2 CBC suites that AllowLegacy adds, for
// KMIP clients that know no AEAD suite: the KMIP profiles' own
// TLS_RSA_WITH_AES_128_CBC_SHA256 and TLS_RSA_WITH_AES_128_CBC_SHA, their
// AES-256 and ECDHE forms.
var LegacyCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// AllowLegacy returns a copy of cfg that also accepts LegacyCipherSuites
// in TLS 1.2. Only the KMIP port may use it (kmsd --tls-legacy).
func AllowLegacy(cfg *tls.Config) *tls.Config {
	out := cfg.Clone()
	out.CipherSuites = append(append([]uint16{}, CipherSuites...), LegacyCipherSuites...)
	return out
}

// ServerConfig presents cert and requires client certificates that chain to
// clientCAs; TLS 1.3, or TLS 1.2 with CipherSuites.
func ServerConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: CipherSuites,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}
}

// ClientConfig presents cert (none when it is empty) and trusts rootCAs;
// TLS 1.3, or TLS 1.2 with CipherSuites.
func ClientConfig(cert tls.Certificate, rootCAs *x509.CertPool) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: CipherSuites, RootCAs: rootCAs}
	if len(cert.Certificate) > 0 {
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// LoadCAPool reads every PEM certificate in file into a new pool.
func LoadCAPool(file string) (*x509.CertPool, error) {
	certs, err := LoadCerts(file)
	if err != nil {
		return nil, err
	}
	return NewPool(certs...), nil
}

// LoadCerts reads every certificate of a PEM bundle; a file without one is
// an error.
func LoadCerts(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("devpki: read CA: %w", err)
	}
	var certs []*x509.Certificate
	for {
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
			return nil, fmt.Errorf("devpki: %s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("devpki: %s: no certificates found", file)
	}
	return certs, nil
}

// NewPool is a pool of the given certificates.
func NewPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}
