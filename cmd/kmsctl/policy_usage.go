package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
)

func newPolicyUsageCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "usage [TENANT]",
		Short: "Show tenants' objects and stored bytes next to their quotas",
		Long: `Show how many objects a tenant holds and how many bytes they take (sealed
material plus attributes), next to the quota that bounds them: the tenant
entry named after the tenant, else the tenant entry "*", else none.

Without TENANT every tenant that holds objects or has a tenant entry is
listed. In JSON a quota of 0 is no limit, as in a policy file.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &adminpb.TenantUsageRequest{}
			if len(args) == 1 {
				req.Tenant = args[0]
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.TenantUsage(ctx, req)
				if err != nil {
					return policyErr(err, c.addr)
				}
				rows := make(tenantUsages, 0, len(resp.GetTenants()))
				for _, u := range resp.GetTenants() {
					rows = append(rows, tenantUsage{Tenant: u.GetTenant(), Objects: u.GetObjects(), MaxObjects: u.GetMaxObjects(),
						Bytes: u.GetBytes(), MaxBytes: u.GetMaxBytes(), QuotaEntry: u.GetQuotaEntry()})
				}
				return ad.emit(rows)
			})
		},
	}
}

// tenantUsage is one tenant's usage and quota; a limit of 0 is none.
type tenantUsage struct {
	Tenant     string `json:"tenant"`
	Objects    uint64 `json:"objects"`
	MaxObjects uint64 `json:"max_objects"`
	Bytes      uint64 `json:"bytes"`
	MaxBytes   uint64 `json:"max_bytes"`
	// QuotaEntry is the tenant entry that sets the quota, empty for none.
	QuotaEntry string `json:"quota_entry"`
}

type tenantUsages []tenantUsage

func (us tenantUsages) writeText(w io.Writer) error {
	if len(us) == 0 {
		_, err := fmt.Fprintln(w, "no tenant holds objects or has a tenant entry")
		return err
	}
	rows := make([][]string, 0, len(us))
	for _, u := range us {
		rows = append(rows, []string{u.Tenant, strconv.FormatUint(u.Objects, 10), limitText(u.MaxObjects),
			strconv.FormatUint(u.Bytes, 10), limitText(u.MaxBytes)})
	}
	return writeTable(w, []string{"TENANT", "OBJECTS", "OBJECT QUOTA", "BYTES", "BYTE QUOTA"}, rows)
}

func limitText(n uint64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}
