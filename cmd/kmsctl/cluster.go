package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
)

func newClusterCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Manage cluster membership over the admin API",
	}
	cmd.AddCommand(newClusterJoinCmd(ad), newClusterMembersCmd(ad), newClusterRemoveCmd(ad), newClusterTransferCmd(ad), newClusterTokenCmd(ad))
	return cmd
}

func newClusterTokenCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage one-time join tokens",
	}
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a one-time token that lets one new node join (shown once, stored only hashed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.CreateJoinToken(ctx, &adminpb.CreateJoinTokenRequest{TtlNanos: int64(ttl)})
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				expires := time.Unix(0, resp.GetExpiresUnixNano()).UTC()
				return ad.emit(tokenResult{Token: resp.GetToken(), Expires: expires, ttl: time.Until(expires)})
			})
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 10*time.Minute, "how long the token stays valid (30s to 24h)")
	cmd.AddCommand(create)
	return cmd
}

type tokenResult struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	ttl     time.Duration
}

func (r tokenResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s\n\nThis token lets one node join until %s (%s from now). Start the new node with\n  kmsd serve ... --join <member admin address> --join-token %s\n(or --join-token-file FILE, or KMSD_JOIN_TOKEN). It is shown only now.\n",
		r.Token, r.Expires.Format(time.RFC3339), durationText(r.ttl.Round(time.Second)), r.Token)
	return err
}

type joinResult struct {
	Node string `json:"node"`
	Via  string `json:"via"`
}

func (r joinResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "node %s joined the cluster via %s\n", r.Node, r.Via)
	return err
}

func newClusterJoinCmd(ad *adminCLI) *cobra.Command {
	var token string
	cmd := &cobra.Command{
		Use:   "join <admin-address-of-any-member> --token TOKEN",
		Short: "Make the node at --admin join the cluster of the member at the given admin address",
		Long: "Make the node at --admin join the cluster of the member at the given admin address.\n" +
			"It needs a one-time join token from `kmsctl cluster token create` run against a member.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				return fmt.Errorf("joining needs a join token: run `kmsctl cluster token create` against a member and pass it with --token")
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				pm := ad.startProgress("waiting for "+c.addr+" to join via "+args[0], false, 0)
				_, err := c.client.Join(ctx, &adminpb.JoinRequest{Address: args[0], Token: token})
				pm.Stop()
				if err != nil {
					return adminErr(err, c.addr, args[0])
				}
				return ad.emit(joinResult{Node: c.addr, Via: args[0]})
			})
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "one-time join token (kmsctl cluster token create)")
	return cmd
}

// memberJSON is one member in `cluster members -o json`.
type memberJSON struct {
	ID           string `json:"id"`
	RaftAddress  string `json:"raft_address"`
	AdminAddress string `json:"admin_address"`
	KMIPAddress  string `json:"kmip_address"`
	Version      string `json:"version"`
	Suffrage     string `json:"suffrage"`
	Leader       bool   `json:"leader"`
	Gossip       string `json:"gossip"`
	Healthy      bool   `json:"healthy"`
	// LastContactNanos is -1 when unknown.
	LastContactNanos int64  `json:"last_contact_ns"`
	AppliedIndex     uint64 `json:"applied_index"`
}

type membersResult struct {
	Members []memberJSON `json:"members"`
}

func (r membersResult) writeText(w io.Writer) error {
	rows := make([][]string, len(r.Members))
	for i, m := range r.Members {
		leader := ""
		if m.Leader {
			leader = "*"
		}
		rows[i] = []string{dash(m.ID), dash(m.RaftAddress), dash(m.AdminAddress), dash(m.KMIPAddress), dash(m.Suffrage),
			leader, dash(m.Gossip), yesNo(m.Healthy), contactText(m.LastContactNanos), strconv.FormatUint(m.AppliedIndex, 10)}
	}
	return writeTable(w, []string{"ID", "ADDRESS", "ADMIN", "KMIP", "SUFFRAGE", "LEADER", "GOSSIP", "HEALTHY", "LAST CONTACT", "APPLIED"}, rows)
}

func newClusterMembersCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the servers of the cluster (ADDRESS is the Raft address)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.Members(ctx, &adminpb.MembersRequest{})
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				r := membersResult{Members: make([]memberJSON, 0, len(resp.GetMembers()))}
				for _, m := range resp.GetMembers() {
					r.Members = append(r.Members, memberJSON{
						ID: m.GetId(), RaftAddress: m.GetRaftAddress(), AdminAddress: m.GetAdminAddress(),
						KMIPAddress: m.GetKmipAddress(), Version: m.GetVersion(), Suffrage: m.GetSuffrage(),
						Leader: m.GetLeader(), Gossip: m.GetGossip(), Healthy: m.GetHealthy(),
						LastContactNanos: m.GetLastContactNanos(), AppliedIndex: m.GetAppliedIndex(),
					})
				}
				return ad.emit(r)
			})
		},
	}
}

type removeResult struct {
	Removed string `json:"removed"`
}

func (r removeResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "removed %s\n", r.Removed)
	return err
}

func newClusterRemoveCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "remove <id>",
		Short: "Take a server out of the cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.Remove(ctx, &adminpb.RemoveRequest{Id: args[0]}); err != nil {
					return adminErr(err, c.addr, args[0])
				}
				return ad.emit(removeResult{Removed: args[0]})
			})
		},
	}
}

type transferResult struct {
	// To is empty when the cluster picked the new leader.
	To string `json:"to"`
}

func (r transferResult) writeText(w io.Writer) error {
	to := r.To
	if to == "" {
		to = "a suitable voter"
	}
	_, err := fmt.Fprintf(w, "leadership transferred to %s\n", to)
	return err
}

func newClusterTransferCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer-leader [id]",
		Short: "Hand leadership to the given voter, or to any suitable voter",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id string
			if len(args) == 1 {
				id = args[0]
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.TransferLeadership(ctx, &adminpb.TransferLeadershipRequest{Id: id}); err != nil {
					return adminErr(err, c.addr, id)
				}
				return ad.emit(transferResult{To: id})
			})
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// contactText shows a last-contact time; "-" when unknown.
func contactText(ns int64) string {
	if ns < 0 {
		return "-"
	}
	return durationText(time.Duration(ns))
}
