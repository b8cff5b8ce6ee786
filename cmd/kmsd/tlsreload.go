package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// tlsState is the node's TLS material, replaced as a whole by reload. The
// listeners' configurations read it at each handshake (GetConfigForClient),
// and the dialer's client certificate too (GetClientCertificate), so new
// handshakes use new files while open connections go on. The trust anchors
// that tell operators from nodes on the gRPC port (config.AdminCAs,
// NodeCAs) and the CAs the dialer trusts are those of the start.
type tlsState struct {
	files  tlsFiles
	logger *slog.Logger
	nodeID string
	legacy bool // the KMIP port also accepts TLS 1.2 CBC suites

	mu  sync.Mutex // serialises reloads
	cur atomic.Pointer[tlsMaterial]
}

func (s *tlsState) material() *tlsMaterial { return s.cur.Load() }

// reload reads every file again. A file that does not load, a key that
// does not match its certificate, or a node certificate that names another
// node keeps the configuration in use; the error names the file.
func (s *tlsState) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := loadMaterial(s.files, s.logger)
	if err == nil {
		_, err = nodeIDFromCert(s.nodeID, s.files.nodeCert, m.nodeCert)
	}
	if err != nil {
		s.logger.Error("TLS reload failed: keeping the certificates and CAs in use", "err", err)
		return err
	}
	s.cur.Store(m)
	s.logger.Info("TLS certificates and CA bundles reloaded",
		"kmip_cert", s.files.kmipCert, "kmip_not_after", m.kmipCert.Leaf.NotAfter,
		"node_cert", s.files.nodeCert, "node_not_after", m.nodeCert.Leaf.NotAfter)
	return nil
}

// trustedCAs are the CAs of the three domains, which may sign a CRL that
// the cluster imports.
func (s *tlsState) trustedCAs() []*x509.Certificate {
	m := s.material()
	out := append([]*x509.Certificate{}, m.clientCAs...)
	out = append(out, m.adminCAs...)
	return append(out, m.nodeCAs...)
}

// server returns a listener configuration that build makes from the
// current material: a handshake after a reload gets one built anew, the
// others share it.
func (s *tlsState) server(build func(*tlsMaterial) *tls.Config) *tls.Config {
	type built struct {
		m   *tlsMaterial
		cfg *tls.Config
	}
	var last atomic.Pointer[built]
	cfg := build(s.material())
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := s.material()
		if b := last.Load(); b != nil && b.m == m {
			return b.cfg, nil
		}
		b := &built{m: m, cfg: build(m)}
		last.Store(b)
		return b.cfg, nil
	}
	return cfg
}

// kmipServer: the KMIP server certificate; clients of the client CA.
func (s *tlsState) kmipServer() *tls.Config {
	return s.server(func(m *tlsMaterial) *tls.Config {
		cfg := devpki.ServerConfig(m.kmipCert, devpki.NewPool(m.clientCAs...))
		if s.legacy {
			cfg = devpki.AllowLegacy(cfg)
		}
		return cfg
	})
}

// nodeServer: the node certificate; peers of the node CA only.
func (s *tlsState) nodeServer() *tls.Config {
	return s.server(func(m *tlsMaterial) *tls.Config {
		return devpki.ServerConfig(m.nodeCert, devpki.NewPool(m.nodeCAs...))
	})
}

// grpcServer: the node certificate; callers of the admin CA or the node CA.
func (s *tlsState) grpcServer() *tls.Config {
	return s.server(func(m *tlsMaterial) *tls.Config {
		return devpki.ServerConfig(m.nodeCert, devpki.NewPool(append(append([]*x509.Certificate{}, m.adminCAs...), m.nodeCAs...)...))
	})
}

// nodeClient dials other nodes with the current node certificate, trusting
// the node CA of the start.
func (s *tlsState) nodeClient() *tls.Config {
	m := s.material()
	cfg := devpki.ClientConfig(m.nodeCert, devpki.NewPool(m.nodeCAs...))
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := s.material().nodeCert
		return &c, nil
	}
	return cfg
}

// reloadOnSIGHUP reloads the TLS files at each SIGHUP until ctx ends. The
// signal is registered before it returns.
func reloadOnSIGHUP(ctx context.Context, st *tlsState) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		reloadOn(ctx, ch, st)
	}()
}

// reloadOn reloads st at each value from ch until ctx ends.
func reloadOn(ctx context.Context, ch <-chan os.Signal, st *tlsState) {
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-ch:
			st.logger.Info("reloading TLS files", "signal", fmt.Sprint(sig))
			_ = st.reload()
		}
	}
}
