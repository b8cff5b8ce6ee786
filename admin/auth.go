package admin

import (
	"context"
	"crypto/x509"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Organizations (certificate Subject O) that carry a role.
const (
	// AdminOrganization identifies operators allowed to use the admin API.
	AdminOrganization = "kmsd-admins"
	// NodeOrganization identifies cluster nodes on the node-to-node service.
	NodeOrganization = "kmsd-nodes"
)

// AdminServiceName is the admin API's gRPC service name, also its name on
// the health service.
const AdminServiceName = "kmsd.admin.v1.Admin"

// Full-method prefixes of the services on a node's gRPC server.
const (
	AdminServicePrefix  = "/kmsd.admin.v1.Admin/"
	HealthServicePrefix = "/grpc.health.v1.Health/"
)

// Policy maps a full-method prefix ("/package.Service/" or a single
// "/package.Service/Method") to the Organization a caller's verified client
// certificate must carry. The longest matching prefix wins; a method that no
// prefix matches is denied, except the health service, which is always open.
type Policy map[string]string

// DefaultPolicy allows the admin API to AdminOrganization only. The
// node-to-node service adds its own prefix with NodeOrganization.
func DefaultPolicy() Policy {
	return Policy{AdminServicePrefix: AdminOrganization}
}

// RequireOrganization returns interceptors that allow the admin API to
// callers whose certificate carries org, and nothing else but health.
func RequireOrganization(org string) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	return Authorize(Policy{AdminServicePrefix: org}, nil)
}

// ServerOptions returns the grpc.ServerOptions that install
// Authorize(p, logger).
func ServerOptions(p Policy, logger *slog.Logger) []grpc.ServerOption {
	u, s := Authorize(p, logger)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(u), grpc.ChainStreamInterceptor(s)}
}

// errNotAuthorised is the only answer a refused caller gets: it does not say
// which role was missing.
var errNotAuthorised = status.Error(codes.PermissionDenied, "not authorised")

// Authorize returns a unary and a stream interceptor that enforce p. The
// server's TLS configuration must verify client certificates
// (tls.RequireAndVerifyClientCert): only verified chains count. Refusals are
// logged at warning level to logger (nil: not logged).
func Authorize(p Policy, logger *slog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	a := newAuthorizer(p, logger)
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !a.allowed(ctx, info.FullMethod) {
			return nil, errNotAuthorised
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !a.allowed(ss.Context(), info.FullMethod) {
			return errNotAuthorised
		}
		return h(srv, ss)
	}
	return unary, stream
}

type rule struct{ prefix, org string }

type authorizer struct {
	rules  []rule // longest prefix first
	logger *slog.Logger
}

func newAuthorizer(p Policy, logger *slog.Logger) *authorizer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &authorizer{logger: logger.With("component", "admin-auth")}
	for prefix, org := range p {
		if prefix == "" || org == "" {
			continue // an empty prefix would open every service; ignore it
		}
		a.rules = append(a.rules, rule{prefix, org})
	}
	sort.Slice(a.rules, func(i, j int) bool {
		if len(a.rules[i].prefix) != len(a.rules[j].prefix) {
			return len(a.rules[i].prefix) > len(a.rules[j].prefix)
		}
		return a.rules[i].prefix < a.rules[j].prefix
	})
	return a
}

func (a *authorizer) allowed(ctx context.Context, method string) bool {
	if strings.HasPrefix(method, HealthServicePrefix) {
		return true
	}
	cert := peerCert(ctx)
	for _, r := range a.rules {
		if strings.HasPrefix(method, r.prefix) {
			if cert != nil && slices.Contains(cert.Subject.Organization, r.org) {
				return true
			}
			a.deny(method, cert, "certificate lacks organization "+r.org)
			return false
		}
	}
	a.deny(method, cert, "no policy for this service")
	return false
}

func (a *authorizer) deny(method string, cert *x509.Certificate, why string) {
	subject := "(no verified certificate)"
	if cert != nil {
		subject = cert.Subject.String()
	}
	a.logger.Warn("grpc call refused", "method", method, "subject", subject, "reason", why)
}

// peerCert returns the caller's verified leaf certificate, or nil.
func peerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

// caller names the verified client for logs: its certificate's common name.
func caller(ctx context.Context) string {
	if c := peerCert(ctx); c != nil {
		return c.Subject.CommonName
	}
	return ""
}
