package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names inside the PKI directory.
const (
	CACertFile     = "ca.pem"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server.key"
	ClientCertFile = "client.pem"
	ClientKeyFile  = "client.key"
	AdminCertFile  = "admin.pem"
	AdminKeyFile   = "admin.key"
	GossipKeyFile  = "gossip.key"
)

// Subject names of the generated certificates.
const (
	CACommonName     = "kmsd dev CA"
	ServerCommonName = "kmsd"
	// NodeOrg marks the server certificate as a cluster node's: nodes use it
	// for Raft, gossip joins and the node-to-node service.
	NodeOrg          = "kmsd-nodes"
	ClientCommonName = "dev-client"
	ClientOrg        = "dev"
	AdminCommonName  = "dev-admin"
	AdminOrg         = "kmsd-admins"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	// Backdate certificates a little so that small clock differences
	// between nodes do not make a fresh certificate "not yet valid".
	clockSkew = time.Hour
)

// Paths names the files of a development PKI.
type Paths struct {
	Dir, CACert, CAKey, ServerCert, ServerKey, ClientCert, ClientKey, AdminCert, AdminKey string
	GossipKey                                                                             string
}

// PathsIn returns the file names Ensure uses in dir, without touching the
// file system.
func PathsIn(dir string) Paths {
	j := func(name string) string { return filepath.Join(dir, name) }
	return Paths{
		Dir:        dir,
		CACert:     j(CACertFile),
		CAKey:      j(CAKeyFile),
		ServerCert: j(ServerCertFile),
		ServerKey:  j(ServerKeyFile),
		ClientCert: j(ClientCertFile),
		ClientKey:  j(ClientKeyFile),
		AdminCert:  j(AdminCertFile),
		AdminKey:   j(AdminKeyFile),
		GossipKey:  j(GossipKeyFile),
	}
}

// Ensure creates dir (0700) and, for each file that does not exist yet,
// generates it: a dev CA (ECDSA P-256, CN "kmsd dev CA", 10 years), a server
// certificate signed by it (CN "kmsd", SANs: DNS localhost + the given hosts,
// IPs 127.0.0.1 and ::1 + any hosts that parse as IPs; ExtKeyUsage ServerAuth
// and ClientAuth, since nodes also dial each other; 2 years), a client
// certificate (CN "dev-client", O "dev", ClientAuth) and an admin client
// certificate (CN "dev-admin", O "kmsd-admins", ClientAuth).
//
// Existing files are never overwritten: an existing CA signs missing leaf
// certificates, and an existing key without its certificate gets a new
// certificate. A certificate whose key is missing, or an existing leaf
// certificate that the CA did not sign, is an error. hosts only affect a
// server certificate that is generated now. Keys are written 0600 as PKCS#8
// PEM, certificates 0644, each atomically (temporary file + rename).
//
// Ensure is not safe to call concurrently from several processes on the same
// directory.
func Ensure(dir string, hosts ...string) (Paths, error) {
	p := PathsIn(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, fmt.Errorf("devpki: create %s: %w", dir, err)
	}
	ca, err := ensureCA(p)
	if err != nil {
		return p, err
	}
	leaves := []struct {
		certFile, keyFile string
		tmpl              func() *x509.Certificate
	}{
		{p.ServerCert, p.ServerKey, func() *x509.Certificate { return serverTemplate(hosts) }},
		{p.ClientCert, p.ClientKey, func() *x509.Certificate {
			return clientTemplate(ClientCommonName, ClientOrg)
		}},
		{p.AdminCert, p.AdminKey, func() *x509.Certificate {
			return clientTemplate(AdminCommonName, AdminOrg)
		}},
	}
	for _, l := range leaves {
		if err := ensureLeaf(ca, l.certFile, l.keyFile, l.tmpl); err != nil {
			return p, err
		}
	}
	if !exists(p.GossipKey) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return p, err
		}
		if err := writeFileAtomic(p.GossipKey, key, 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}

// authority is a loaded CA certificate and its key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func ensureCA(p Paths) (*authority, error) {
	key, err := ensureKey(p.CAKey, p.CACert)
	if err != nil {
		return nil, err
	}
	if !exists(p.CACert) {
		tmpl, err := caTemplate(CACommonName)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, fmt.Errorf("devpki: create CA certificate: %w", err)
		}
		if err := writeFileAtomic(p.CACert, encodeCert(der), 0o644); err != nil {
			return nil, err
		}
	}
	cert, err := readCert(p.CACert)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("devpki: %s is not a CA certificate", p.CACert)
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("devpki: %s does not match %s", p.CAKey, p.CACert)
	}
	return &authority{cert: cert, key: key}, nil
}

// caTemplate describes a CA certificate valid for caValidity.
func caTemplate(cn string) (*x509.Certificate, error) {
	t := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return t, setValidity(t, caValidity)
}

func ensureLeaf(ca *authority, certFile, keyFile string, tmpl func() *x509.Certificate) error {
	key, err := ensureKey(keyFile, certFile)
	if err != nil {
		return err
	}
	if !exists(certFile) {
		t := tmpl()
		if err := setValidity(t, leafValidity); err != nil {
			return err
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca.cert, key.Public(), ca.key)
		if err != nil {
			return fmt.Errorf("devpki: create %s: %w", certFile, err)
		}
		return writeFileAtomic(certFile, encodeCert(der), 0o644)
	}
	cert, err := readCert(certFile)
	if err != nil {
		return err
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return fmt.Errorf("devpki: %s does not match %s", keyFile, certFile)
	}
	if err := cert.CheckSignatureFrom(ca.cert); err != nil {
		return fmt.Errorf("devpki: %s was not signed by the CA in %s; remove it to regenerate: %w",
			certFile, filepath.Dir(certFile), err)
	}
	return nil
}

// ensureKey loads keyFile, or generates it when neither it nor the
// certificate that would hold its public half exists.
func ensureKey(keyFile, certFile string) (crypto.Signer, error) {
	if exists(keyFile) {
		return readKey(keyFile)
	}
	if exists(certFile) {
		return nil, fmt.Errorf("devpki: %s exists but its key %s is missing; remove it to regenerate", certFile, keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devpki: generate key: %w", err)
	}
	pemBytes, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyFile, pemBytes, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func serverTemplate(hosts []string) *x509.Certificate {
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ServerCommonName, Organization: []string{NodeOrg}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !containsIP(t.IPAddresses, ip) {
				t.IPAddresses = append(t.IPAddresses, ip)
			}
		} else if !containsString(t.DNSNames, h) {
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return t
}

func clientTemplate(cn, org string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{org}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

func setValidity(t *x509.Certificate, d time.Duration) error {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("devpki: serial number: %w", err)
	}
	now := time.Now()
	t.SerialNumber = serial
	t.NotBefore = now.Add(-clockSkew)
	t.NotAfter = now.Add(d)
	return nil
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}
