package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// Environment variables of the admin flags.
const (
	envAdmin     = "KMSCTL_ADMIN"
	envAdminCA   = "KMSCTL_ADMIN_CA"
	envAdminCert = "KMSCTL_ADMIN_CERT"
	envAdminKey  = "KMSCTL_ADMIN_KEY"
)

const defaultAdmin = "127.0.0.1:5697"

// ErrorInfo metadata keys of a not-leader error (admin.MetaLeaderID and
// admin.MetaLeaderAdminAddr; kmsctl does not link the server package).
const (
	metaLeaderID   = "leader_id"
	metaLeaderAddr = "leader_admin_address"
)

// adminFlags are the admin API's persistent flags as the user gave them.
type adminFlags struct {
	addr, ca, cert, key string
}

// adminCLI is what the cluster, snapshot and status commands share.
type adminCLI struct {
	*app
	admin adminFlags
}

func newAdminCLI(a *app, pf *pflag.FlagSet) *adminCLI {
	ad := &adminCLI{app: a}
	pf.StringVar(&ad.admin.addr, "admin", defaultAdmin, "admin gRPC address host:port of a kmsd node, or a comma-separated list tried in order until\none answers (env "+envAdmin+")")
	pf.StringVar(&ad.admin.ca, "admin-ca", "", "CA certificate file to verify the admin server, which presents its node certificate: the node CA\n(env "+envAdminCA+"; default: --ca, then <dev-dir>/pki/node-ca.pem)")
	pf.StringVar(&ad.admin.cert, "admin-cert", "", "admin client certificate for the cluster, snapshot and status commands\n(env "+envAdminCert+"; default: --cert, then <dev-dir>/pki/admin.pem)")
	pf.StringVar(&ad.admin.key, "admin-key", "", "admin client private key (env "+envAdminKey+"; default: --key, then <dev-dir>/pki/admin.key)")
	return ad
}

// resolveAdmin applies the precedence flag > environment > --dev-dir >
// default. The certificate and key are taken as a pair from the first of:
// --admin-cert/--admin-key, --cert/--key, KMSCTL_ADMIN_CERT/KMSCTL_ADMIN_KEY,
// KMSCTL_CERT/KMSCTL_KEY, the dev dir's pki/admin.pem and pki/admin.key.
// The admin server presents a node certificate, so the CA that verifies it
// is the first of --admin-ca, --ca, KMSCTL_ADMIN_CA, KMSCTL_CA and the dev
// dir's node CA, pki/node-ca.pem.
func resolveAdmin(g globalFlags, af adminFlags, setFlags func(string) bool, getenv func(string) string) (connConfig, error) {
	pick := func(flag, value, env string) string {
		if setFlags(flag) {
			return value
		}
		if v := getenv(env); v != "" {
			return v
		}
		return value
	}
	cfg := connConfig{server: pick("admin", af.addr, envAdmin)}
	if cfg.server == "" {
		cfg.server = defaultAdmin
	}
	switch {
	case setFlags("admin-ca"):
		cfg.ca = af.ca
	case setFlags("ca"):
		cfg.ca = g.ca
	case getenv(envAdminCA) != "":
		cfg.ca = getenv(envAdminCA)
	default:
		cfg.ca = getenv(envCA)
	}
	switch {
	case setFlags("admin-cert") || setFlags("admin-key"):
		cfg.cert, cfg.key = af.cert, af.key
	case setFlags("cert") || setFlags("key"):
		cfg.cert, cfg.key = g.cert, g.key
	case getenv(envAdminCert) != "" || getenv(envAdminKey) != "":
		cfg.cert, cfg.key = getenv(envAdminCert), getenv(envAdminKey)
	case getenv(envCert) != "" || getenv(envKey) != "":
		cfg.cert, cfg.key = getenv(envCert), getenv(envKey)
	}
	if devDir := pick("dev-dir", g.devDir, envDevDir); devDir != "" {
		p := devpki.PathsIn(filepath.Join(devDir, "pki"))
		if cfg.ca == "" {
			cfg.ca = p.NodeCACert
		}
		if cfg.cert == "" && cfg.key == "" {
			cfg.cert, cfg.key = p.AdminCert, p.AdminKey
		}
	}
	switch {
	case (cfg.cert == "") != (cfg.key == ""):
		return cfg, errors.New("the admin certificate and key must be given together (--admin-cert and --admin-key)")
	case cfg.cert == "":
		return cfg, errors.New("this command needs an admin certificate: give --admin-cert and --admin-key, or --dev-dir")
	}
	return cfg, nil
}

// adminConn is one admin API connection.
type adminConn struct {
	addr   string
	cfg    connConfig // the settings it was made with
	client adminpb.AdminClient
	close  func()
}

// withAdmin dials the admin API of --admin with the time limit d unless
// --timeout was given, runs f, and closes the connection.
func (ad *adminCLI) withAdmin(cmd *cobra.Command, d time.Duration, f func(ctx context.Context, c *adminConn) error) error {
	ctx, c, done, err := ad.dialAdminWithin(cmd, d)
	if err != nil {
		return err
	}
	defer done()
	return f(ctx, c)
}

// dialAdminWithin resolves the admin settings and connects to --admin. The
// returned context carries the time limit d, or --timeout when it was
// given; done releases both.
func (ad *adminCLI) dialAdminWithin(cmd *cobra.Command, d time.Duration) (context.Context, *adminConn, func(), error) {
	cfg, err := resolveAdmin(ad.flags, ad.admin, ad.root.PersistentFlags().Changed, ad.getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	if ad.root.PersistentFlags().Changed("timeout") {
		d = ad.flags.timeout
	}
	if ad.flags.verbose {
		cfg.log = ad.stderr
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), d)
	addr, err := pickAdmin(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	c, err := connectAdmin(cfg, addr)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	cfg.logf("admin API at %s", addr)
	return ctx, c, func() { c.close(); cancel() }, nil
}

// pickAdmin returns the first address of --admin (a comma-separated list)
// that completes a TLS handshake. gRPC connects lazily and reports a
// failed connection only with the first call, so with more than one
// address each is probed first; a single address is left to gRPC, whose
// errors adminErr words.
func pickAdmin(ctx context.Context, cfg connConfig) (string, error) {
	addrs, err := splitAddrs("admin", cfg.server)
	if err != nil || len(addrs) == 1 {
		return strings.Join(addrs, ""), err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return "", err
	}
	tlsCfg.NextProtos = []string{"h2"}
	h := hintContext{ca: cfg.ca, cert: cfg.cert, caFlag: "--admin-ca", certFlag: "--admin-cert/--admin-key"}
	var failures []string
	for i, addr := range addrs {
		actx, cancel := attemptContext(ctx, len(addrs)-i)
		d := tls.Dialer{Config: tlsCfg}
		conn, err := d.DialContext(actx, "tcp", addr)
		cancel()
		if err == nil {
			_ = conn.Close()
			return addr, nil
		}
		h.addr = addr
		err = connErr(actx, err)
		if hint := hintFor(err, h); hint != nil {
			err = hint
		}
		msg := connectErr(addr, err).Error()
		failures = append(failures, msg)
		if i+1 < len(addrs) {
			cfg.logf("%s; trying %s", msg, addrs[i+1])
		}
	}
	return "", fmt.Errorf("no address of --admin answered: %s", strings.Join(failures, "; "))
}

// connectAdmin makes a connection to addr with cfg's TLS settings.
func connectAdmin(cfg connConfig, addr string) (*adminConn, error) {
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	// grpc.NewClient connects lazily: connection errors come with the
	// first call, as Unavailable.
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithUserAgent("kmsctl/"+version))
	if err != nil {
		return nil, fmt.Errorf("invalid admin address %q: %w", addr, err)
	}
	return &adminConn{addr: addr, cfg: cfg, client: adminpb.NewAdminClient(conn), close: func() { _ = conn.Close() }}, nil
}

// notLeaderError is a refusal by a follower; leaderAddr is the leader's
// admin address when the follower knows it.
type notLeaderError struct {
	leaderID, leaderAddr string
}

func (e *notLeaderError) Error() string {
	if e.leaderAddr == "" {
		return "not the leader; leader unknown"
	}
	return fmt.Sprintf("not the leader; leader is %s at %s (use --admin %s)", e.leaderID, e.leaderAddr, e.leaderAddr)
}

const notAuthorised = "not authorised (this command needs an admin certificate whose role, its Subject OU, allows it: operator, backup or read-only)"

// certRefused is the answer when the node refused the client certificate
// during the TLS handshake: its gRPC port accepts certificates of the admin
// and node CAs only.
const certRefused = "not authorised: the node refused this client certificate " +
	"(the admin API needs a certificate of the admin CA with Organization kmsd-admins)"

// adminErr turns an admin API error into one line for the operator. addr
// is the node that was called; subject is what the request named (the join
// address, a member id), or "".
func adminErr(err error, addr, subject string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	reason, meta := errorReason(st)
	switch reason {
	case adminpb.ErrorReason_ERROR_REASON_NOT_LEADER:
		return &notLeaderError{leaderID: meta[metaLeaderID], leaderAddr: meta[metaLeaderAddr]}
	case adminpb.ErrorReason_ERROR_REASON_NO_LEADER:
		return errors.New("no leader")
	case adminpb.ErrorReason_ERROR_REASON_UNREACHABLE:
		if subject == "" {
			subject = addr
		}
		return errors.New("node unreachable: " + subject)
	case adminpb.ErrorReason_ERROR_REASON_UNKNOWN_MEMBER:
		if subject != "" {
			return errors.New("no such member: " + subject)
		}
	case adminpb.ErrorReason_ERROR_REASON_SEALED:
		return fmt.Errorf("%s is sealed: unseal it with `kmsctl --admin %s operator unseal`", addr, addr)
	case adminpb.ErrorReason_ERROR_REASON_WRONG_UNSEAL_KEY:
		return errors.New(st.Message())
	case adminpb.ErrorReason_ERROR_REASON_BAD_JOIN_TOKEN:
		return errors.New(st.Message() + " (create a new one with `kmsctl cluster token create`)")
	case adminpb.ErrorReason_ERROR_REASON_FOREIGN_SNAPSHOT, adminpb.ErrorReason_ERROR_REASON_TAMPERED_SNAPSHOT:
		return errors.New(st.Message())
	case adminpb.ErrorReason_ERROR_REASON_OLD_SNAPSHOT:
		return errors.New(forceHint(st.Message()))
	}
	switch st.Code() {
	case codes.PermissionDenied, codes.Unauthenticated:
		return errors.New(notAuthorised)
	case codes.Unavailable:
		msg := st.Message()
		switch {
		case refusedByServer(msg):
			return errors.New(certRefused)
		case strings.Contains(msg, "unknown authority"):
			return fmt.Errorf("node unreachable: %s%s; the admin port presents the node's certificate: verify it with the node CA (--admin-ca)",
				addr, transportCause(msg))
		}
		cause := transportCause(msg)
		if cause == " (connection refused)" {
			cause += ": is kmsd running? (kmsd dev prints its admin address)"
		}
		return fmt.Errorf("node unreachable: %s%s", addr, cause)
	case codes.DeadlineExceeded:
		return errors.New("timed out")
	case codes.Canceled:
		return errors.New("canceled")
	case codes.Unimplemented:
		return fmt.Errorf("the node at %s does not support this command", addr)
	case codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		return errors.New(st.Message())
	}
	return fmt.Errorf("server error (%s)", st.Message())
}

// errorReason reads the ErrorInfo detail the admin server attaches.
func errorReason(st *status.Status) (adminpb.ErrorReason, map[string]string) {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return adminpb.ErrorReason(adminpb.ErrorReason_value[info.GetReason()]), info.GetMetadata()
		}
	}
	return adminpb.ErrorReason_ERROR_REASON_UNSPECIFIED, nil
}

// refusedByServer reports a TLS alert by which the server refused the
// client's certificate (Go's client sends none that the server's
// acceptable CAs do not cover, hence "certificate required").
func refusedByServer(msg string) bool {
	for _, alert := range []string{"remote error: tls: certificate required", "remote error: tls: bad certificate",
		"remote error: tls: unknown certificate authority"} {
		if strings.Contains(msg, alert) {
			return true
		}
	}
	return false
}

// transportCause shortens gRPC's connection error text to its cause, e.g.
// " (connection refused)".
func transportCause(msg string) string {
	switch {
	case strings.Contains(msg, "broken pipe"), strings.Contains(msg, "connection reset by peer"):
		// A server that refuses the client certificate closes the
		// connection; a write can fail before its alert is read.
		return " (connection closed during the TLS handshake: the node may have refused this client certificate)"
	case strings.Contains(msg, "connection refused"):
		return " (connection refused)"
	case strings.Contains(msg, "no such host"):
		return " (no such host)"
	case strings.Contains(msg, "handshake failed"), strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		if i := strings.LastIndex(msg, "tls: "); i >= 0 {
			cause := strings.ReplaceAll(msg[i+len("tls: "):], `\"`, `"`)
			cause, _, _ = strings.Cut(cause, " (possibly because")
			return " (TLS handshake failed: " + strings.TrimRight(cause, `"`) + ")"
		}
		return " (TLS handshake failed)"
	}
	return ""
}
