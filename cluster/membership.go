package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/proto/clusterpb"
)

// ErrHasData refuses to join a node that holds objects of another cluster.
var ErrHasData = errors.New("cluster: this node holds objects of another cluster; start it with an empty data folder to join")

// ErrAlreadyClustered refuses to join a node that is a member of a cluster.
var ErrAlreadyClustered = errors.New("cluster: this node is already a member of a cluster; start it with an empty data folder to join another")

// ErrInvalidArgument reports a request value out of range.
var ErrInvalidArgument = errors.New("cluster: invalid argument")

// GossipPeers names the nodes this node's gossip pool holds alive, itself
// included; empty without gossip.
func (n *Node) GossipPeers() []string {
	if n.gossip == nil {
		return nil
	}
	return n.gossip.alive()
}

// Remove takes a server out of the Raft configuration.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.forwardToLeader(ctx,
		func() error {
			if !n.inConfiguration(id) {
				return ErrUnknownMember
			}
			timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
			if err := mapRaftErr(n.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error()); err != nil {
				return err
			}
			n.logger.Info("removed server", "id", id)
			return nil
		},
		func(c clusterpb.ClusterClient) error {
			_, err := c.RemoveServer(ctx, &clusterpb.RemoveServerRequest{Id: id})
			return err
		})
}

func (n *Node) inConfiguration(id string) bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			return true
		}
	}
	return false
}

// TransferLeadership hands leadership to the voter id, or to the most
// up-to-date voter when id is empty.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	return n.forwardToLeader(ctx,
		func() error {
			if id == "" {
				return mapRaftErr(n.raft.LeadershipTransfer().Error())
			}
			f := n.raft.GetConfiguration()
			if err := f.Error(); err != nil {
				return mapRaftErr(err)
			}
			for _, s := range f.Configuration().Servers {
				if string(s.ID) == id && s.Suffrage == raft.Voter {
					if id == n.cfg.NodeID {
						return nil
					}
					return mapRaftErr(n.raft.LeadershipTransferToServer(s.ID, s.Address).Error())
				}
			}
			return ErrUnknownMember
		},
		func(c clusterpb.ClusterClient) error {
			_, err := c.TransferLeadership(ctx, &clusterpb.TransferLeadershipRequest{Id: id})
			return err
		})
}

// Members returns every server as the leader sees it.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	var out []Member
	err := n.forwardToLeader(ctx,
		func() error {
			var err error
			out, err = n.localMembers()
			return err
		},
		func(c clusterpb.ClusterClient) error {
			resp, err := c.Members(ctx, &clusterpb.MembersRequest{})
			if err != nil {
				return err
			}
			out = out[:0]
			for _, m := range resp.GetMembers() {
				out = append(out, memberFromProto(m))
			}
			return nil
		})
	return out, err
}

// localMembers builds the member list from this node's Raft configuration,
// gossip and (on the leader) autopilot.
func (n *Node) localMembers() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, mapRaftErr(err)
	}
	_, leader := n.raft.LeaderWithID()
	state := n.pilot.GetState()
	var out []Member
	for _, s := range f.Configuration().Servers {
		p, _ := n.peers.get(string(s.ID))
		m := Member{
			ID: string(s.ID), RaftAddr: string(s.Address), AdminAddr: p.AdminAddr, KMIPAddr: p.KMIPAddr, Version: p.Version,
			Suffrage: suffrage(s.Suffrage), Leader: s.ID == leader, Gossip: GossipUnknown, LastContact: -1,
		}
		if n.gossip != nil {
			m.Gossip = n.gossip.state(m.ID)
		}
		if state != nil {
			if ss, ok := state.Servers[s.ID]; ok {
				m.Healthy = ss.Health.Healthy
				m.LastContact = ss.Stats.LastContact
				m.AppliedIndex = ss.Stats.LastIndex
				if ss.State == "staging" {
					m.Suffrage = SuffrageStaging
				}
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func suffrage(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return SuffrageVoter
	case raft.Staging:
		return SuffrageStaging
	}
	return SuffrageNonvoter
}

// Status reports this node's own view.
func (n *Node) Status(ctx context.Context) (Status, error) {
	leaderAddr, leader := n.raft.LeaderWithID()
	_ = leaderAddr
	st := Status{
		ID: n.cfg.NodeID, Version: n.cfg.Version, State: stateName(n.raft.State()), LeaderID: string(leader),
		Term: parseUint(n.raft.Stats()["term"]), CommitIndex: n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(), LastLogIndex: n.raft.LastIndex(), Objects: n.sm.Count(),
	}
	if p, ok := n.peers.get(string(leader)); ok {
		st.LeaderAdminAddr = p.AdminAddr
	}
	if d, err := n.sm.Digest(); err == nil {
		st.StoreDigest = hex.EncodeToString(d[:])
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		st.Members = len(f.Configuration().Servers)
		st.Voters = n.voters()
	}
	if state := n.pilot.GetState(); state != nil && n.IsLeader() {
		st.Healthy, st.FailureTolerance = state.Healthy, state.FailureTolerance
	} else {
		st.Healthy = leader != "" && n.lastContact() < n.cfg.Autopilot.LastContactThreshold
		st.FailureTolerance = (st.Voters - 1) / 2
	}
	return st, nil
}

func stateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

func memberToProto(m Member) *clusterpb.Member {
	return &clusterpb.Member{
		Id: m.ID, RaftAddr: m.RaftAddr, AdminAddr: m.AdminAddr, KmipAddr: m.KMIPAddr, Version: m.Version,
		Suffrage: m.Suffrage, Leader: m.Leader, Gossip: m.Gossip, Healthy: m.Healthy,
		LastContactNanos: int64(m.LastContact), AppliedIndex: m.AppliedIndex,
	}
}

func memberFromProto(p *clusterpb.Member) Member {
	return Member{
		ID: p.GetId(), RaftAddr: p.GetRaftAddr(), AdminAddr: p.GetAdminAddr(), KMIPAddr: p.GetKmipAddr(), Version: p.GetVersion(),
		Suffrage: p.GetSuffrage(), Leader: p.GetLeader(), Gossip: p.GetGossip(), Healthy: p.GetHealthy(),
		LastContact: time.Duration(p.GetLastContactNanos()), AppliedIndex: p.GetAppliedIndex(),
	}
}

// JoinAny joins through the first of addrs that answers, retrying until ctx
// ends. A node that already has a Raft configuration is left as it is: it
// rejoins its cluster by itself.
func (n *Node) JoinAny(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 || n.hasConfiguration() {
		return nil
	}
	for {
		var last error
		for _, a := range addrs {
			if last = n.Join(ctx, a, n.cfg.JoinToken); last == nil {
				n.logger.Info("joined the cluster", "via", a)
				return n.waitConfiguration(ctx)
			}
			n.logger.Info("join attempt failed", "via", a, "err", last)
			if errors.Is(last, ErrHasData) || errors.Is(last, ErrAlreadyClustered) || errors.Is(last, ErrJoinRefused) || errors.Is(last, ErrNoJoinToken) {
				return last
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrUnreachable, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitConfiguration waits until the leader has sent this node the cluster's
// configuration, which follows an accepted join.
func (n *Node) waitConfiguration(ctx context.Context) error {
	for !n.hasConfiguration() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: joined, but no configuration arrived from the leader", ErrTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
