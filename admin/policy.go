package admin

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// AccessPolicy holds the replicated access policy of the KMIP port.
type AccessPolicy interface {
	// PolicyEntries lists the entries in name order, as of a read index.
	PolicyEntries(ctx context.Context) ([]*kmsdpb.PolicyEntry, error)
	// SetPolicy adds or replaces entries in one log entry; actor names the
	// operator.
	SetPolicy(ctx context.Context, entries []*kmsdpb.PolicyEntry, actor string) error
	// DeletePolicy removes one entry.
	DeletePolicy(ctx context.Context, name, actor string) error
}

// Bounds of one SetPolicy call.
const (
	maxSetEntries  = 1000
	maxEntryBytes  = 64 << 10
	maxCertificate = 64 << 10
)

func (s *Server) accessPolicy() (AccessPolicy, error) {
	if s.cfg.AccessPolicy == nil {
		return nil, status.Error(codes.Unimplemented, "this node keeps no access policy")
	}
	return s.cfg.AccessPolicy, nil
}

// ListPolicy implements adminpb.AdminServer.
func (s *Server) ListPolicy(ctx context.Context, _ *adminpb.ListPolicyRequest) (*adminpb.ListPolicyResponse, error) {
	ps, err := s.accessPolicy()
	if err != nil {
		return nil, err
	}
	entries, err := ps.PolicyEntries(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "ListPolicy", err)
	}
	return &adminpb.ListPolicyResponse{Entries: redacted(entries)}, nil
}

// GetPolicy implements adminpb.AdminServer.
func (s *Server) GetPolicy(ctx context.Context, req *adminpb.GetPolicyRequest) (*adminpb.GetPolicyResponse, error) {
	ps, err := s.accessPolicy()
	if err != nil {
		return nil, err
	}
	entries, err := ps.PolicyEntries(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "GetPolicy", err)
	}
	for _, e := range entries {
		if e.GetName() == req.GetName() {
			return &adminpb.GetPolicyResponse{Entry: redacted([]*kmsdpb.PolicyEntry{e})[0]}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "no policy entry %q", truncateName(req.GetName()))
}

// SetPolicy implements adminpb.AdminServer. The change is checked against
// the current policy first, so that a mistake gets a precise answer; the
// state machine checks it again when it applies it.
func (s *Server) SetPolicy(ctx context.Context, req *adminpb.SetPolicyRequest) (*adminpb.SetPolicyResponse, error) {
	ps, err := s.accessPolicy()
	if err != nil {
		return nil, err
	}
	if n := len(req.GetEntries()); n == 0 || n > maxSetEntries {
		return nil, status.Errorf(codes.InvalidArgument, "give 1 to %d policy entries", maxSetEntries)
	}
	for _, e := range req.GetEntries() {
		if proto.Size(e) > maxEntryBytes {
			return nil, status.Errorf(codes.InvalidArgument, "policy entry %q is larger than %d bytes", truncateName(e.GetName()), maxEntryBytes)
		}
	}
	cur, err := ps.PolicyEntries(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "SetPolicy", err)
	}
	if _, err := policy.Compile(merged(cur, req.GetEntries())); err != nil {
		return nil, status.Error(codes.InvalidArgument, policyText(err))
	}
	if err := ps.SetPolicy(ctx, req.GetEntries(), caller(ctx)); err != nil {
		return nil, s.policyStatus(ctx, "SetPolicy", err)
	}
	names := make([]string, 0, len(req.GetEntries()))
	for _, e := range req.GetEntries() {
		names = append(names, e.GetName())
	}
	s.logger.Info("policy entries set", "entries", names, "caller", caller(ctx))
	return &adminpb.SetPolicyResponse{}, nil
}

// DeletePolicy implements adminpb.AdminServer.
func (s *Server) DeletePolicy(ctx context.Context, req *adminpb.DeletePolicyRequest) (*adminpb.DeletePolicyResponse, error) {
	ps, err := s.accessPolicy()
	if err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	cur, err := ps.PolicyEntries(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "DeletePolicy", err)
	}
	found := false
	rest := make([]*kmsdpb.PolicyEntry, 0, len(cur))
	for _, e := range cur {
		if e.GetName() == req.GetName() {
			found = true
			continue
		}
		rest = append(rest, e)
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "no policy entry %q", truncateName(req.GetName()))
	}
	if _, err := policy.Compile(rest); err != nil {
		return nil, status.Error(codes.FailedPrecondition, policyText(err))
	}
	if err := ps.DeletePolicy(ctx, req.GetName(), caller(ctx)); err != nil {
		return nil, s.policyStatus(ctx, "DeletePolicy", err)
	}
	s.logger.Info("policy entry deleted", "entry", req.GetName(), "caller", caller(ctx))
	return &adminpb.DeletePolicyResponse{}, nil
}

// ResolveIdentity implements adminpb.AdminServer. It does not verify the
// certificate: it says what the policy would make of it.
func (s *Server) ResolveIdentity(ctx context.Context, req *adminpb.ResolveIdentityRequest) (*adminpb.ResolveIdentityResponse, error) {
	ps, err := s.accessPolicy()
	if err != nil {
		return nil, err
	}
	if len(req.GetCertificate()) > maxCertificate || len(req.GetIssuer()) > maxCertificate {
		return nil, status.Errorf(codes.InvalidArgument, "a certificate is larger than %d bytes", maxCertificate)
	}
	leaf, err := x509.ParseCertificate(req.GetCertificate())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "certificate is not a DER X.509 certificate")
	}
	issuer, err := x509.ParseCertificate(req.GetIssuer())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "issuer is not a DER X.509 certificate")
	}
	id, err := policy.FromChain([]*x509.Certificate{leaf, issuer})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "the certificate carries no Common Name and no DNS, e-mail or URI name")
	}
	entries, err := ps.PolicyEntries(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "ResolveIdentity", err)
	}
	p, err := policy.Compile(entries)
	if err != nil {
		return nil, s.toStatus(ctx, "ResolveIdentity", err)
	}
	pr := p.Resolve(id)
	return &adminpb.ResolveIdentityResponse{Identity: pr.Identity, Tenant: pr.Tenant, Role: pr.Role.Name, Binding: pr.Binding}, nil
}

// RedactedHash stands for a credential's password hash in what the admin API
// returns: the hashes stay in the cluster.
const RedactedHash = "(redacted)"

// redacted copies entries with their password hashes replaced.
func redacted(entries []*kmsdpb.PolicyEntry) []*kmsdpb.PolicyEntry {
	out := make([]*kmsdpb.PolicyEntry, len(entries))
	for i, e := range entries {
		if len(e.GetBinding().GetCredentials()) == 0 {
			out[i] = e
			continue
		}
		c := proto.Clone(e).(*kmsdpb.PolicyEntry)
		for _, cred := range c.GetBinding().GetCredentials() {
			cred.PasswordArgon2Id = RedactedHash
		}
		out[i] = c
	}
	return out
}

// merged is cur with entries added or replaced by name.
func merged(cur, entries []*kmsdpb.PolicyEntry) []*kmsdpb.PolicyEntry {
	out := make([]*kmsdpb.PolicyEntry, 0, len(cur)+len(entries))
	set := map[string]bool{}
	for _, e := range entries {
		set[e.GetName()] = true
	}
	for _, e := range cur {
		if !set[e.GetName()] {
			out = append(out, e)
		}
	}
	return append(out, entries...)
}

// policyStatus maps a refusal by the state machine (the policy changed
// between the check and the apply).
func (s *Server) policyStatus(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, fsm.ErrPolicyRefused):
		return status.Error(codes.Aborted, "the policy changed meanwhile and the change no longer applies; list it and try again")
	case errors.Is(err, fsm.ErrNoPolicyEntry):
		return status.Error(codes.NotFound, "no such policy entry")
	}
	return s.toStatus(ctx, method, err)
}

// policyText is a policy error for the operator: our own wording, which
// quotes at most the first characters of their values.
func policyText(err error) string {
	return strings.Replace(err.Error(), "policy: invalid: ", "invalid policy: ", 1)
}

func truncateName(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%s...", s[:64])
	}
	return s
}
