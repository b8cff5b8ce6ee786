package admin

import (
	"bytes"
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

	"github.com/kmsd/kmsd/cluster"
)

// Organizations (certificate Subject O) that carry a role.
const (
	// AdminOrganization identifies operators allowed to use the admin API.
	AdminOrganization = "kmsd-admins"
	// NodeOrganization identifies cluster nodes on the node-to-node service.
	NodeOrganization = cluster.NodeOrganization
)

// AdminServiceName is the admin API's gRPC service name, also its name on
// the health service.
const AdminServiceName = "kmsd.admin.v1.Admin"

// Full-method prefixes of the services on a node's gRPC server.
const (
	AdminServicePrefix  = "/kmsd.admin.v1.Admin/"
	NodeServicePrefix   = "/kmsd.cluster.v1.Cluster/"
	HealthServicePrefix = "/grpc.health.v1.Health/"
)

// Rule is what a caller's verified client certificate must show to call a
// service. The gRPC port serves two trust domains, operators and nodes, and
// its TLS layer accepts both CAs; a rule names the domain by its CA, so a
// certificate of one domain never acts in another, whatever its subject
// says.
type Rule struct {
	// Anchors are the CA certificates of the domain: one of the caller's
	// verified chains must end at one of them (compared byte for byte). A
	// rule without anchors admits nobody.
	Anchors []*x509.Certificate
	// Organization, when set, must be among the leaf's Subject O.
	Organization string
	// NodeID requires a leaf that names a node id (cluster.NodeIDFromCert).
	NodeID bool
	// Roles requires that the leaf's role (RoleOf) may call the method
	// (roles.go); a method the table does not name is refused.
	Roles bool
}

// AdminRule admits operators: a chain to one of adminCAs, Organization
// AdminOrganization, and a role that may call the method.
func AdminRule(adminCAs []*x509.Certificate) Rule {
	return Rule{Anchors: adminCAs, Organization: AdminOrganization, Roles: true}
}

// NodeRule admits cluster nodes: a chain to one of nodeCAs and a
// certificate that names a node id.
func NodeRule(nodeCAs []*x509.Certificate) Rule {
	return Rule{Anchors: nodeCAs, NodeID: true}
}

// Policy maps a full-method prefix ("/package.Service/" or a single
// "/package.Service/Method") to the Rule its callers must satisfy. The
// longest matching prefix wins; a method that no prefix matches is denied,
// except the health service, which is open to any verified certificate.
type Policy map[string]Rule

// DefaultPolicy is a node's gRPC port: the admin API for operators of
// adminCAs, the node-to-node service for nodes of nodeCAs.
func DefaultPolicy(adminCAs, nodeCAs []*x509.Certificate) Policy {
	return Policy{
		AdminServicePrefix: AdminRule(adminCAs),
		NodeServicePrefix:  NodeRule(nodeCAs),
	}
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

type prefixRule struct {
	prefix string
	Rule
}

type authorizer struct {
	rules  []prefixRule // longest prefix first
	logger *slog.Logger
}

func newAuthorizer(p Policy, logger *slog.Logger) *authorizer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &authorizer{logger: logger.With("component", "admin-auth")}
	for prefix, r := range p {
		if prefix == "" {
			continue // an empty prefix would open every service; ignore it
		}
		a.rules = append(a.rules, prefixRule{prefix, r})
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
	chains := verifiedChains(ctx)
	var leaf *x509.Certificate
	if len(chains) > 0 {
		leaf = chains[0][0]
	}
	for _, r := range a.rules {
		if strings.HasPrefix(method, r.prefix) {
			if why := r.refusal(chains, method); why != "" {
				a.deny(method, leaf, why)
				return false
			}
			return true
		}
	}
	a.deny(method, leaf, "no policy for this service")
	return false
}

// refusal says why chains do not satisfy r for method, or "" if they do.
func (r Rule) refusal(chains [][]*x509.Certificate, method string) string {
	if len(chains) == 0 {
		return "no verified certificate"
	}
	if !slices.ContainsFunc(chains, func(c []*x509.Certificate) bool { return isAnchor(c[len(c)-1], r.Anchors) }) {
		return "certificate is not from a CA of this service's trust domain"
	}
	leaf := chains[0][0]
	if r.Organization != "" && !slices.Contains(leaf.Subject.Organization, r.Organization) {
		return "certificate lacks organization " + r.Organization
	}
	if r.NodeID {
		if _, ok := cluster.NodeIDFromCert(leaf); !ok {
			return "certificate names no node id"
		}
	}
	if r.Roles {
		if role := RoleOf(leaf); !roleMayCall(role, method) {
			return "role " + string(role) + " may not call this method"
		}
	}
	return ""
}

// isAnchor reports whether cert is one of anchors, byte for byte.
func isAnchor(cert *x509.Certificate, anchors []*x509.Certificate) bool {
	return slices.ContainsFunc(anchors, func(a *x509.Certificate) bool { return bytes.Equal(a.Raw, cert.Raw) })
}

func (a *authorizer) deny(method string, cert *x509.Certificate, why string) {
	subject := "(no verified certificate)"
	if cert != nil {
		subject = cert.Subject.String()
	}
	a.logger.Warn("grpc call refused", "method", method, "subject", subject, "reason", why)
}

// verifiedChains returns the caller's verified certificate chains, each
// from the leaf to a trust anchor, or nil.
func verifiedChains(ctx context.Context) [][]*x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil
	}
	var out [][]*x509.Certificate
	for _, c := range info.State.VerifiedChains {
		if len(c) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// peerCert returns the caller's verified leaf certificate, or nil.
func peerCert(ctx context.Context) *x509.Certificate {
	if chains := verifiedChains(ctx); len(chains) > 0 {
		return chains[0][0]
	}
	return nil
}

// caller names the verified client for logs: its certificate's common name.
func caller(ctx context.Context) string {
	if c := peerCert(ctx); c != nil {
		return c.Subject.CommonName
	}
	return ""
}
