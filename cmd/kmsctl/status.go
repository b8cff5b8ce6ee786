package main

import (
	"context"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// nodeStatusResult is one node's view of itself and the cluster.
type nodeStatusResult struct {
	Node             string `json:"node"`
	ID               string `json:"id"`
	Version          string `json:"version"`
	State            string `json:"state"`
	LeaderID         string `json:"leader_id"`
	LeaderAdminAddr  string `json:"leader_admin_address"`
	Term             uint64 `json:"term"`
	CommitIndex      uint64 `json:"commit_index"`
	AppliedIndex     uint64 `json:"applied_index"`
	LastLogIndex     uint64 `json:"last_log_index"`
	Objects          int64  `json:"objects"`
	Voters           int32  `json:"voters"`
	Members          int32  `json:"members"`
	Healthy          bool   `json:"healthy"`
	FailureTolerance int32  `json:"failure_tolerance"`
	StoreDigest      string `json:"store_digest"`
	Sealed           bool   `json:"sealed"`
	SealMethod       string `json:"seal_method"`
}

func (r nodeStatusResult) writeText(w io.Writer) error {
	leader := "none"
	if r.LeaderID != "" {
		leader = r.LeaderID
		if r.LeaderAdminAddr != "" {
			leader += " at " + r.LeaderAdminAddr
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	seal := dash(r.SealMethod)
	if r.Sealed {
		return writeKV(w,
			[2]string{"node", r.Node},
			[2]string{"id", dash(r.ID)},
			[2]string{"version", dash(r.Version)},
			[2]string{"state", "sealed (serves no KMIP, not in Raft): unseal it with `kmsctl operator unseal`"},
			[2]string{"seal", seal},
		)
	}
	return writeKV(w,
		[2]string{"node", r.Node},
		[2]string{"id", dash(r.ID)},
		[2]string{"version", dash(r.Version)},
		[2]string{"state", dash(r.State)},
		[2]string{"leader", leader},
		[2]string{"term", u(r.Term)},
		[2]string{"commit index", u(r.CommitIndex)},
		[2]string{"applied index", u(r.AppliedIndex)},
		[2]string{"last log index", u(r.LastLogIndex)},
		[2]string{"objects", i(r.Objects)},
		[2]string{"voters", i(int64(r.Voters))},
		[2]string{"members", i(int64(r.Members))},
		[2]string{"healthy", yesNo(r.Healthy)},
		[2]string{"failure tolerance", i(int64(r.FailureTolerance))},
		[2]string{"store digest", dash(r.StoreDigest)},
		[2]string{"seal", seal},
	)
}

func newStatusCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node at --admin's view of itself and the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				st, err := c.client.Status(ctx, &adminpb.StatusRequest{})
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				return ad.emit(nodeStatusResult{
					Node: c.addr, ID: st.GetId(), Version: st.GetVersion(), State: st.GetState(),
					LeaderID: st.GetLeaderId(), LeaderAdminAddr: st.GetLeaderAdminAddress(),
					Term: st.GetTerm(), CommitIndex: st.GetCommitIndex(), AppliedIndex: st.GetAppliedIndex(),
					LastLogIndex: st.GetLastLogIndex(), Objects: st.GetObjects(), Voters: st.GetVoters(),
					Members: st.GetMembers(), Healthy: st.GetHealthy(), FailureTolerance: st.GetFailureTolerance(),
					StoreDigest: st.GetStoreDigest(), Sealed: st.GetSealed(), SealMethod: st.GetSealMethod(),
				})
			})
		},
	}
}
