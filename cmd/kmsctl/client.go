package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// Environment variables that supply defaults for the global flags.
const (
	envServer = "KMSCTL_SERVER"
	envCA     = "KMSCTL_CA"
	envCert   = "KMSCTL_CERT"
	envKey    = "KMSCTL_KEY"
	envDevDir = "KMSCTL_DEV_DIR"
)

const defaultServer = "127.0.0.1:5696"

// globalFlags are the root command's persistent flags as the user gave them.
type globalFlags struct {
	server, ca, cert, key, devDir string
	kmipVersion                   string
	output                        string
	timeout                       time.Duration
	verbose                       bool
	progress                      bool
}

// connConfig is what a KMIP connection needs, after flags, environment and
// the --dev-dir shortcut have been resolved.
type connConfig struct {
	server, ca, cert, key string
	// version is nil to negotiate with Discover Versions.
	version *kmip.ProtocolVersion
	// log receives --verbose lines; nil when not verbose.
	log io.Writer
}

// logf writes one --verbose line.
func (c connConfig) logf(format string, args ...any) {
	if c.log != nil {
		fmt.Fprintf(c.log, "kmsctl: "+format+"\n", args...)
	}
}

// resolveConn applies, for each setting, the precedence flag > environment
// > --dev-dir > default. setFlags reports which flags were given on the
// command line.
func resolveConn(g globalFlags, setFlags func(name string) bool, getenv func(string) string) (connConfig, error) {
	pick := func(flag, value, env string) string {
		if setFlags(flag) {
			return value
		}
		if v := getenv(env); v != "" {
			return v
		}
		return value
	}
	cfg := connConfig{
		server: pick("server", g.server, envServer),
		ca:     pick("ca", g.ca, envCA),
		cert:   pick("cert", g.cert, envCert),
		key:    pick("key", g.key, envKey),
	}
	if cfg.server == "" {
		cfg.server = defaultServer
	}
	if devDir := pick("dev-dir", g.devDir, envDevDir); devDir != "" {
		p := devpki.PathsIn(filepath.Join(devDir, "pki"))
		if cfg.ca == "" {
			cfg.ca = p.CACert
		}
		if cfg.cert == "" && cfg.key == "" {
			cfg.cert, cfg.key = p.ClientCert, p.ClientKey
		}
	}
	if (cfg.cert == "") != (cfg.key == "") {
		return cfg, errors.New("--cert and --key must be given together")
	}
	v, err := parseVersion(g.kmipVersion)
	if err != nil {
		return cfg, err
	}
	cfg.version = v
	return cfg, nil
}

// parseVersion accepts "", "negotiate" or "1.0" … "1.4".
func parseVersion(s string) (*kmip.ProtocolVersion, error) {
	switch strings.TrimSpace(s) {
	case "", "negotiate", "auto":
		return nil, nil
	}
	for _, v := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_1, kmip.V1_2, kmip.V1_3, kmip.V1_4} {
		if v.String() == strings.TrimSpace(s) {
			return &v, nil
		}
	}
	return nil, fmt.Errorf("invalid --kmip-version %q: want 1.0, 1.1, 1.2, 1.3, 1.4 or negotiate", s)
}

func (c connConfig) tlsConfig() (*tls.Config, error) {
	// The KMIP 1.4 profiles require TLS 1.2 or later; TLS 1.3 is preferred,
	// TLS 1.2 only with ECDHE and an AEAD suite.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: devpki.CipherSuites}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, fmt.Errorf("cannot read CA certificate: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot read CA certificate: no PEM certificate in %s", c.ca)
		}
	} // else nil RootCAs: crypto/tls verifies against the system roots.
	if c.cert != "" {
		cert, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("cannot load client certificate %s: %w", c.cert, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// connErr makes transport errors readable: a context deadline becomes a
// timeout, everything else is kept as the standard library words it.
func connErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	// "dial tcp 127.0.0.1:5696: connect: connection refused" repeats the
	// address the caller already names.
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Err != nil {
		return opErr.Err
	}
	return err
}
