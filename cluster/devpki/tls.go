package devpki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLS returns a tls.Config for a server with these files: MinVersion
// TLS 1.2, client certificates required and verified against the CA, the
// server certificate loaded.
func ServerTLS(p Paths) (*tls.Config, error) {
	pool, err := LoadCAPool(p.CACert)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("devpki: load server certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientTLS returns a tls.Config for a client using the given cert/key files
// and trusting caFile. With certFile and keyFile both empty the client
// presents no certificate.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if certFile == "" && keyFile == "" {
		return cfg, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("devpki: load client certificate: %w", err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	return cfg, nil
}

// LoadCAPool reads every PEM certificate in file into a new pool.
func LoadCAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("devpki: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("devpki: %s: no certificates found", file)
	}
	return pool, nil
}
