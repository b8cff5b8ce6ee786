package main

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// tlsFiles are the PEM files of the three trust domains: KMIP clients
// (client CA; the KMIP server certificate), operators (admin CA) and nodes
// (node CA; this node's certificate).
type tlsFiles struct {
	kmipCert, kmipKey         string
	clientCA, adminCA, nodeCA string
	nodeCert, nodeKey         string
	allowSharedCA             bool
}

func (f *tlsFiles) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kmipCert, "tls-cert", "", "KMIP server certificate (PEM)")
	fs.StringVar(&f.kmipKey, "tls-key", "", "KMIP server private key (PEM)")
	fs.StringVar(&f.clientCA, "client-ca", "", "CA bundle that KMIP client certificates must chain to (PEM)")
	fs.StringVar(&f.adminCA, "admin-ca", "", "CA bundle that operators' certificates (Organization kmsd-admins) must chain to, for the admin API (PEM)")
	fs.StringVar(&f.nodeCA, "node-ca", "", "CA bundle that node certificates must chain to: Raft, gossip joins and the node-to-node service trust only it (PEM)")
	fs.StringVar(&f.nodeCert, "node-cert", "", "this node's certificate, from the node CA, naming its node id (URI SAN urn:kmsd:node:<id>); served on the Raft and gRPC ports (PEM)")
	fs.StringVar(&f.nodeKey, "node-key", "", "this node's private key (PEM)")
	fs.BoolVar(&f.allowSharedCA, "allow-shared-ca", false, "UNSAFE: start even if the client, admin and node CAs are the same or one issued another; a certificate of one domain could then act in another")
}

// missing names the flags that are not set.
func (f *tlsFiles) missing() []string {
	var out []string
	for _, v := range []struct{ name, value string }{
		{"--tls-cert", f.kmipCert}, {"--tls-key", f.kmipKey}, {"--client-ca", f.clientCA},
		{"--admin-ca", f.adminCA}, {"--node-ca", f.nodeCA}, {"--node-cert", f.nodeCert}, {"--node-key", f.nodeKey},
	} {
		if v.value == "" {
			out = append(out, v.name)
		}
	}
	return out
}

// devTLSFiles are the files of a development PKI, with the certificate of
// one node.
func devTLSFiles(p devpki.Paths, nodeCert, nodeKey string) tlsFiles {
	return tlsFiles{
		kmipCert: p.ServerCert, kmipKey: p.ServerKey,
		clientCA: p.CACert, adminCA: p.AdminCACert, nodeCA: p.NodeCACert,
		nodeCert: nodeCert, nodeKey: nodeKey,
	}
}

// loadTLS reads the files and fills cfg's TLS settings, its trust anchors
// and, when cfg.NodeID is empty, the node id the node certificate names:
//
//   - KMIP listener: the KMIP server certificate; clients of the client CA;
//   - Raft listener and dialing other nodes: the node certificate; peers of
//     the node CA only;
//   - gRPC port (admin API and node service): the node certificate; callers
//     of the admin CA or the node CA, told apart by admin.Policy.
//
// CAs shared between domains are refused (checkSeparateCAs), or with
// f.allowSharedCA logged as a warning.
func loadTLS(cfg *config, f tlsFiles, logger *slog.Logger) error {
	m, err := loadMaterial(f, logger)
	if err != nil {
		return err
	}
	if cfg.NodeID, err = nodeIDFromCert(cfg.NodeID, f.nodeCert, m.nodeCert); err != nil {
		return err
	}
	st := &tlsState{files: f, logger: logger, nodeID: cfg.NodeID, legacy: cfg.TLSLegacy}
	st.cur.Store(m)
	cfg.TLS = st
	cfg.KMIPTLS = st.kmipServer()
	cfg.NodeServerTLS = st.nodeServer()
	cfg.NodeClientTLS = st.nodeClient()
	cfg.GRPCTLS = st.grpcServer()
	cfg.AdminCAs, cfg.NodeCAs = m.adminCAs, m.nodeCAs
	return nil
}

// tlsMaterial is what the TLS files hold, checked.
type tlsMaterial struct {
	kmipCert, nodeCert           tls.Certificate
	clientCAs, adminCAs, nodeCAs []*x509.Certificate
}

// loadMaterial reads and checks the files: separate CAs (see loadTLS), key
// pairs that match, a node certificate of the node CA for server and
// client auth.
func loadMaterial(f tlsFiles, logger *slog.Logger) (*tlsMaterial, error) {
	clientCAs, err := loadBundle("KMIP TLS", "--client-ca", f.clientCA)
	if err != nil {
		return nil, err
	}
	adminCAs, err := loadBundle("admin TLS", "--admin-ca", f.adminCA)
	if err != nil {
		return nil, err
	}
	nodeCAs, err := loadBundle("node TLS", "--node-ca", f.nodeCA)
	if err != nil {
		return nil, err
	}
	if err := checkSeparateCAs(clientCAs, adminCAs, nodeCAs); err != nil {
		if !f.allowSharedCA {
			return nil, err
		}
		logger.Warn("--allow-shared-ca: starting with a CA shared between trust domains", "err", err)
	}
	kmipCert, err := tls.LoadX509KeyPair(f.kmipCert, f.kmipKey)
	if err != nil {
		return nil, fmt.Errorf("KMIP TLS: --tls-cert %s and --tls-key %s: %w", f.kmipCert, f.kmipKey, err)
	}
	nodeCert, err := tls.LoadX509KeyPair(f.nodeCert, f.nodeKey)
	if err != nil {
		return nil, fmt.Errorf("node TLS: --node-cert %s and --node-key %s: %w", f.nodeCert, f.nodeKey, err)
	}
	for _, c := range []*tls.Certificate{&kmipCert, &nodeCert} {
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("TLS: --tls-cert %s or --node-cert %s: %w", f.kmipCert, f.nodeCert, err)
			}
		}
	}
	nodePool := devpki.NewPool(nodeCAs...)
	// A node serves Raft and gRPC and dials its peers with one certificate.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := nodeCert.Leaf.Verify(x509.VerifyOptions{Roots: nodePool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, fmt.Errorf("node TLS: --node-cert %s does not chain to --node-ca %s for both server and client auth (peers would refuse it): %w",
				f.nodeCert, f.nodeCA, err)
		}
	}
	return &tlsMaterial{kmipCert: kmipCert, nodeCert: nodeCert, clientCAs: clientCAs, adminCAs: adminCAs, nodeCAs: nodeCAs}, nil
}

func loadBundle(what, flagName, file string) ([]*x509.Certificate, error) {
	certs, err := devpki.LoadCerts(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", what, flagName, err)
	}
	return certs, nil
}

// nodeIDFromCert returns the node id that the node certificate names; a
// given id must be that one.
func nodeIDFromCert(given, file string, cert tls.Certificate) (string, error) {
	id, err := cluster.CertificateNodeID(cert)
	if err != nil {
		return "", fmt.Errorf("node TLS: --node-cert %s: %w", file, err)
	}
	if given != "" && given != id {
		return "", fmt.Errorf("--node-id %q does not match the node certificate %s, which names node %q: "+
			"peers know a node by the id in its certificate; drop --node-id or give the certificate of node %q", given, file, id, given)
	}
	return id, nil
}

// errSharedCA reports trust domains that share a CA.
var errSharedCA = errors.New("trust domains share a CA")

// checkSeparateCAs refuses CA bundles of two trust domains that share an
// authority: the same certificate, the same key, or a certificate of one
// bundle that issued one of the other (in either direction). With a shared
// CA, whoever may issue certificates in one domain may issue them in the
// other.
func checkSeparateCAs(clientCAs, adminCAs, nodeCAs []*x509.Certificate) error {
	type domain struct {
		flag  string
		certs []*x509.Certificate
	}
	client, admin, node := domain{"--client-ca", clientCAs}, domain{"--admin-ca", adminCAs}, domain{"--node-ca", nodeCAs}
	for _, pair := range []struct {
		a, b domain
		risk string
	}{
		{node, client, "a KMIP client certificate could act as a cluster node"},
		{admin, client, "a KMIP client certificate could act as an operator"},
		{node, admin, "an operator's certificate could act as a cluster node"},
	} {
		for _, x := range pair.a.certs {
			for _, y := range pair.b.certs {
				if how := sharedAuthority(x, y); how != "" {
					return fmt.Errorf("%w: %s and %s: %s, so %s. Give each trust domain a CA of its own "+
						"(kmsd dev and deploy/gen-pki.sh make three), or pass --allow-shared-ca to accept this unsafe setup",
						errSharedCA, pair.a.flag, pair.b.flag, how, pair.risk)
				}
			}
		}
	}
	return nil
}

// sharedAuthority says how x and y are one authority, or "" if they are not.
func sharedAuthority(x, y *x509.Certificate) string {
	switch {
	case bytes.Equal(x.Raw, y.Raw):
		return fmt.Sprintf("both hold the certificate %q", name(x))
	case publicKeyEqual(x.PublicKey, y.PublicKey):
		return fmt.Sprintf("%q and %q have the same key", name(x), name(y))
	case issued(x, y):
		return fmt.Sprintf("%q issued %q", name(x), name(y))
	case issued(y, x):
		return fmt.Sprintf("%q issued %q", name(y), name(x))
	}
	return ""
}

// issued reports whether parent signed child: child names parent's subject
// as its issuer and parent's key verifies child's signature.
func issued(parent, child *x509.Certificate) bool {
	return bytes.Equal(child.RawIssuer, parent.RawSubject) &&
		parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
}

func name(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	return fmt.Sprintf("serial %x", c.SerialNumber)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
