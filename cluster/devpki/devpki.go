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
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

// File names inside the PKI directory. The KMIP domain keeps the names of
// the single-CA layout, so KMIP clients that trust ca.pem keep working.
const (
	CACertFile      = "ca.pem" // the KMIP CA: signs server.pem and client.pem
	CAKeyFile       = "ca.key"
	ServerCertFile  = "server.pem" // the KMIP server certificate
	ServerKeyFile   = "server.key"
	ClientCertFile  = "client.pem"
	ClientKeyFile   = "client.key"
	AdminCACertFile = "admin-ca.pem" // the admin CA: signs admin.pem
	AdminCAKeyFile  = "admin-ca.key"
	AdminCertFile   = "admin.pem"
	AdminKeyFile    = "admin.key"
	NodeCACertFile  = "node-ca.pem" // the node CA: signs nodes/<id>.pem
	NodeCAKeyFile   = "node-ca.key"
	NodesDir        = "nodes"
	GossipKeyFile   = "gossip.key"
)

// Subject names of the generated certificates.
const (
	CACommonName      = "kmsd dev CA"
	AdminCACommonName = "kmsd dev admin CA"
	NodeCACommonName  = "kmsd dev node CA"
	ServerCommonName  = "kmsd"
	// NodeOrg marks a node certificate: nodes use it for Raft, gossip joins
	// and the node-to-node service.
	NodeOrg          = cluster.NodeOrganization
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

// Paths names the files of a development PKI: three trust domains, each
// with a CA of its own.
type Paths struct {
	Dir string
	// KMIP: the CA that KMIP clients trust and that verifies them, the KMIP
	// server certificate and a client certificate.
	CACert, CAKey, ServerCert, ServerKey, ClientCert, ClientKey string
	// Operators: the admin CA and an admin client certificate.
	AdminCACert, AdminCAKey, AdminCert, AdminKey string
	// Nodes: the node CA; NodeCert and NodeKey name each node's files.
	NodeCACert, NodeCAKey string
	GossipKey             string
}

// PathsIn returns the file names Ensure uses in dir, without touching the
// file system.
func PathsIn(dir string) Paths {
	j := func(name string) string { return filepath.Join(dir, name) }
	return Paths{
		Dir:         dir,
		CACert:      j(CACertFile),
		CAKey:       j(CAKeyFile),
		ServerCert:  j(ServerCertFile),
		ServerKey:   j(ServerKeyFile),
		ClientCert:  j(ClientCertFile),
		ClientKey:   j(ClientKeyFile),
		AdminCACert: j(AdminCACertFile),
		AdminCAKey:  j(AdminCAKeyFile),
		AdminCert:   j(AdminCertFile),
		AdminKey:    j(AdminKeyFile),
		NodeCACert:  j(NodeCACertFile),
		NodeCAKey:   j(NodeCAKeyFile),
		GossipKey:   j(GossipKeyFile),
	}
}

// NodeCert is the certificate file of node id: <dir>/nodes/<id>.pem.
func (p Paths) NodeCert(id string) string { return filepath.Join(p.Dir, NodesDir, id+".pem") }

// NodeKey is the private key file of node id: <dir>/nodes/<id>.key.
func (p Paths) NodeKey(id string) string { return filepath.Join(p.Dir, NodesDir, id+".key") }

// Ensure creates dir (0700) and, for each file that does not exist yet,
// generates it. Three CAs (ECDSA P-256, 10 years), one per trust domain:
//
//   - the KMIP CA (ca.pem, CN "kmsd dev CA") signs the KMIP server
//     certificate server.pem (CN "kmsd", SANs: DNS localhost + the given
//     hosts, IPs 127.0.0.1 and ::1 + any hosts that parse as IPs; ServerAuth)
//     and the client certificate client.pem (CN "dev-client", O "dev");
//   - the admin CA (admin-ca.pem) signs admin.pem (CN "dev-admin", O
//     "kmsd-admins");
//   - the node CA (node-ca.pem) signs node certificates, made by EnsureNode.
//
// Leaf certificates are valid for 2 years. Existing files are never
// overwritten, with one exception: a folder made when a single CA signed
// everything gets its admin CA now, and its admin.pem and admin.key, which
// that CA signed, are replaced by ones the admin CA signs (the admin API
// refuses an admin certificate of the KMIP CA). An existing CA signs missing
// leaf certificates, and an existing key without its certificate gets a new
// certificate. A certificate whose key is missing, or an existing leaf
// certificate that its CA did not sign, is an error. hosts only affect a
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
	kmipCA, _, err := ensureCA(p.CACert, p.CAKey, CACommonName)
	if err != nil {
		return p, err
	}
	adminCA, adminCANew, err := ensureCA(p.AdminCACert, p.AdminCAKey, AdminCACommonName)
	if err != nil {
		return p, err
	}
	if _, _, err := ensureCA(p.NodeCACert, p.NodeCAKey, NodeCACommonName); err != nil {
		return p, err
	}
	if adminCANew {
		if err := dropSignedBy(kmipCA, p.AdminCert, p.AdminKey); err != nil {
			return p, err
		}
	}
	leaves := []struct {
		ca                *authority
		certFile, keyFile string
		tmpl              func() *x509.Certificate
	}{
		{kmipCA, p.ServerCert, p.ServerKey, func() *x509.Certificate { return serverTemplate(hosts) }},
		{kmipCA, p.ClientCert, p.ClientKey, func() *x509.Certificate {
			return clientTemplate(ClientCommonName, ClientOrg)
		}},
		{adminCA, p.AdminCert, p.AdminKey, func() *x509.Certificate {
			return clientTemplate(AdminCommonName, AdminOrg)
		}},
	}
	for _, l := range leaves {
		if err := ensureLeaf(l.ca, l.certFile, l.keyFile, l.tmpl); err != nil {
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

// EnsureNode makes sure the node CA of an Ensure'd folder has signed a
// certificate for node id, and returns its certificate and key files
// (p.NodeCert(id), p.NodeKey(id)). A new certificate has Common Name id,
// Organization "kmsd-nodes", the URI SAN urn:kmsd:node:<id>, DNS localhost
// + hosts, IPs 127.0.0.1 and ::1 + hosts that parse as IPs, and ExtKeyUsage
// ServerAuth and ClientAuth (nodes dial each other with it). Existing files
// are kept, as Ensure keeps them; one that names another node id is an
// error.
func EnsureNode(p Paths, id string, hosts ...string) (certFile, keyFile string, err error) {
	if err := cluster.ValidNodeID(id); err != nil {
		return "", "", fmt.Errorf("devpki: node id %q: %w", id, err)
	}
	ca, err := loadCA(p.NodeCACert, p.NodeCAKey)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(filepath.Join(p.Dir, NodesDir), 0o700); err != nil {
		return "", "", fmt.Errorf("devpki: %w", err)
	}
	certFile, keyFile = p.NodeCert(id), p.NodeKey(id)
	if err := ensureLeaf(ca, certFile, keyFile, func() *x509.Certificate { return nodeTemplate(id, hosts) }); err != nil {
		return "", "", err
	}
	cert, err := readCert(certFile)
	if err != nil {
		return "", "", err
	}
	if got, ok := cluster.NodeIDFromCert(cert); !ok || got != id {
		return "", "", fmt.Errorf("devpki: %s does not name node %q; remove it and %s to regenerate", certFile, id, keyFile)
	}
	return certFile, keyFile, nil
}

// authority is a loaded CA certificate and its key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// ensureCA loads the CA in certFile and keyFile, creating what is missing;
// created reports a new CA certificate.
func ensureCA(certFile, keyFile, cn string) (ca *authority, created bool, err error) {
	key, err := ensureKey(keyFile, certFile)
	if err != nil {
		return nil, false, err
	}
	if !exists(certFile) {
		tmpl, err := caTemplate(cn)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, false, fmt.Errorf("devpki: create CA certificate: %w", err)
		}
		if err := writeFileAtomic(certFile, encodeCert(der), 0o644); err != nil {
			return nil, false, err
		}
		created = true
	}
	ca, err = loadCA(certFile, keyFile)
	return ca, created, err
}

// loadCA reads a CA certificate and its key and checks that they match.
func loadCA(certFile, keyFile string) (*authority, error) {
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := readCert(certFile)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("devpki: %s is not a CA certificate", certFile)
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("devpki: %s does not match %s", keyFile, certFile)
	}
	return &authority{cert: cert, key: key}, nil
}

// dropSignedBy removes certFile and keyFile if ca signed the certificate.
func dropSignedBy(ca *authority, certFile, keyFile string) error {
	if !exists(certFile) {
		return nil
	}
	cert, err := readCert(certFile)
	if err != nil {
		return err
	}
	if cert.CheckSignatureFrom(ca.cert) != nil {
		return nil
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("devpki: %w", err)
		}
	}
	return nil
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
		return fmt.Errorf("devpki: %s was not signed by the CA %q; remove it and its key to regenerate: %w",
			certFile, ca.cert.Subject.CommonName, err)
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

// serverTemplate is the KMIP server certificate: ServerAuth for the given
// hosts.
func serverTemplate(hosts []string) *x509.Certificate {
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ServerCommonName},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	addHosts(t, hosts)
	return t
}

// nodeTemplate is a node certificate: it names the node id and serves both
// TLS roles.
func nodeTemplate(id string, hosts []string) *x509.Certificate {
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: id, Organization: []string{NodeOrg}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{cluster.NodeURI(id)},
	}
	addHosts(t, hosts)
	return t
}

// addHosts sets DNS localhost, IPs 127.0.0.1 and ::1, and hosts.
func addHosts(t *x509.Certificate, hosts []string) {
	t.DNSNames = append(t.DNSNames, "localhost")
	t.IPAddresses = append(t.IPAddresses, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
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
