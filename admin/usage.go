package admin

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// UsageSource is what TenantUsage needs from the node.
type UsageSource interface {
	// Accounting returns the local state machine's accounting once it has
	// applied a read index.
	Accounting(ctx context.Context) (Accounting, error)
}

// Accounting reads tenants' usage and the policy whose tenant entries set
// their quotas; *fsm.FSM satisfies it.
type Accounting interface {
	TenantUsage(tenant string) fsm.TenantUsage
	TenantUsages() ([]fsm.TenantUsage, error)
	PolicyEntries() ([]*kmsdpb.PolicyEntry, error)
}

// maxUsageTenant bounds the tenant of a TenantUsage request. A tenant is
// named by a binding (at most 64 characters) or is a client's identity,
// whose name comes from its certificate.
const maxUsageTenant = 1024

func (s *Server) usageSource() (UsageSource, error) {
	if s.cfg.Usage == nil {
		return nil, status.Error(codes.Unimplemented, "this node keeps no tenant usage")
	}
	return s.cfg.Usage, nil
}

// TenantUsage implements adminpb.AdminServer. A named tenant is always
// answered, with zeros when it holds nothing; without a name, every tenant
// that holds objects or has a tenant entry is, in tenant order.
func (s *Server) TenantUsage(ctx context.Context, req *adminpb.TenantUsageRequest) (*adminpb.TenantUsageResponse, error) {
	src, err := s.usageSource()
	if err != nil {
		return nil, err
	}
	if len(req.GetTenant()) > maxUsageTenant {
		return nil, status.Errorf(codes.InvalidArgument, "a tenant is at most %d bytes", maxUsageTenant)
	}
	acc, err := src.Accounting(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "TenantUsage", err)
	}
	entries, err := acc.PolicyEntries()
	if err != nil {
		return nil, s.toStatus(ctx, "TenantUsage", err)
	}
	byName := make(map[string]*kmsdpb.PolicyEntry, len(entries))
	for _, e := range entries {
		byName[e.GetName()] = e
	}
	var usages []fsm.TenantUsage
	if t := req.GetTenant(); t != "" {
		usages = []fsm.TenantUsage{acc.TenantUsage(t)}
	} else {
		if usages, err = acc.TenantUsages(); err != nil {
			return nil, s.toStatus(ctx, "TenantUsage", err)
		}
		usages = withTenantEntries(usages, entries)
	}
	resp := &adminpb.TenantUsageResponse{Tenants: make([]*adminpb.TenantUsage, len(usages))}
	for i, u := range usages {
		q := policy.QuotaOf(u.Tenant, func(name string) *kmsdpb.PolicyEntry { return byName[name] })
		resp.Tenants[i] = &adminpb.TenantUsage{Tenant: u.Tenant, Objects: u.Objects, Bytes: u.Bytes,
			MaxObjects: q.MaxObjects, MaxBytes: q.MaxBytes, QuotaEntry: q.Entry}
	}
	return resp, nil
}

// withTenantEntries adds an empty usage for each tenant entry's tenant that
// holds no objects, and sorts by tenant. The default quota entry names no
// tenant.
func withTenantEntries(usages []fsm.TenantUsage, entries []*kmsdpb.PolicyEntry) []fsm.TenantUsage {
	seen := make(map[string]bool, len(usages))
	for _, u := range usages {
		seen[u.Tenant] = true
	}
	for _, e := range entries {
		if name := e.GetName(); e.GetTenant() != nil && name != policy.DefaultQuotaEntry && !seen[name] {
			usages = append(usages, fsm.TenantUsage{Tenant: name})
		}
	}
	slices.SortFunc(usages, func(a, b fsm.TenantUsage) int { return strings.Compare(a.Tenant, b.Tenant) })
	return usages
}
