package cluster

import (
	"bytes"
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

// ErrHasData refuses to join a node that holds objects sealed with another
// data key.
var ErrHasData = errors.New("cluster: this node holds objects of another cluster; start it with an empty data folder to join")

// ErrAlreadyClustered refuses to join a node that leads a cluster of its own.
var ErrAlreadyClustered = errors.New("cluster: this node already leads a cluster of its own; start it with an empty data folder to join another")

// Join makes this node a member of the cluster that the member at address
// (its admin/node gRPC address) belongs to: the leader adds it to Raft as a
// non-voter (autopilot promotes it once stable) and it joins the gossip pool.
func (n *Node) Join(ctx context.Context, address string) error {
	if n.IsLeader() && n.voters() >= 1 {
		return ErrAlreadyClustered
	}
	c, err := n.rpc.client(address)
	if err != nil {
		return err
	}
	self, _ := n.peers.get(n.cfg.NodeID)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	// Key material replicated to this node is sealed with the cluster's
	// data key: adopt it before joining.
	dk, err := c.DataKey(ctx, &clusterpb.DataKeyRequest{})
	if err := mapRPCErr(err); err != nil {
		return err
	}
	if !bytes.Equal(dk.GetKey(), n.cfg.Keyring.dataKey()) {
		if n.sm.Count() > 0 {
			return ErrHasData
		}
		if err := n.cfg.Keyring.Adopt(dk.GetKey()); err != nil {
			return err
		}
	}
	resp, err := c.AddServer(ctx, &clusterpb.AddServerRequest{
		Id: self.ID, RaftAddr: self.RaftAddr, AdminAddr: self.AdminAddr, GossipAddr: self.GossipAddr,
	})
	if err := mapRPCErr(err); err != nil {
		return err
	}
	if n.gossip != nil {
		return n.gossip.join(resp.GetGossipAddrs())
	}
	return nil
}

// addServer adds a server to the Raft configuration on the leader; a
// follower hands the request to the leader.
func (n *Node) addServer(ctx context.Context, p peerInfo) error {
	if p.ID == "" || p.RaftAddr == "" {
		return fmt.Errorf("%w: id and raft address are required", ErrUnknownMember)
	}
	n.peers.put(p)
	return n.forwardToLeader(ctx,
		func() error {
			timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
			if n.isVoter(p.ID, p.RaftAddr) {
				return nil
			}
			n.logger.Info("adding server", "id", p.ID, "raft", p.RaftAddr)
			return mapRaftErr(n.raft.AddNonvoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, timeout).Error())
		},
		func(c clusterpb.ClusterClient) error {
			_, err := c.AddServer(ctx, &clusterpb.AddServerRequest{Id: p.ID, RaftAddr: p.RaftAddr, AdminAddr: p.AdminAddr, GossipAddr: p.GossipAddr})
			return err
		})
}

// isVoter reports whether the configuration already has this server as a
// voter at this address: joining again must not demote it.
func (n *Node) isVoter(id, addr string) bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id && string(s.Address) == addr && s.Suffrage == raft.Voter {
			return true
		}
	}
	return false
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
			if last = n.Join(ctx, a); last == nil {
				n.logger.Info("joined the cluster", "via", a)
				return n.waitConfiguration(ctx)
			}
			n.logger.Info("join attempt failed", "via", a, "err", last)
			if errors.Is(last, ErrHasData) || errors.Is(last, ErrAlreadyClustered) {
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
