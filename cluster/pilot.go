package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"

	"github.com/kmsd/kmsd/proto/clusterpb"
)

// pilotDelegate lets raft-autopilot see the cluster: which servers exist and
// are alive (gossip), how far each one is (the node service's Stats), and
// how to remove a failed one.
type pilotDelegate struct {
	n *Node
}

func (d *pilotDelegate) AutopilotConfig() *autopilot.Config {
	c := d.n.cfg.Autopilot
	return &autopilot.Config{
		CleanupDeadServers:      c.CleanupDeadServers,
		LastContactThreshold:    c.LastContactThreshold,
		MaxTrailingLogs:         c.MaxTrailingLogs,
		MinQuorum:               c.MinQuorum,
		ServerStabilizationTime: c.ServerStabilizationTime,
	}
}

func (d *pilotDelegate) NotifyState(*autopilot.State) {}

// KnownServers are the servers of the Raft configuration, with their status
// as gossip reports it.
func (d *pilotDelegate) KnownServers() map[raft.ServerID]*autopilot.Server {
	n := d.n
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	_, leader := n.raft.LeaderWithID()
	out := map[raft.ServerID]*autopilot.Server{}
	for _, s := range f.Configuration().Servers {
		p, _ := n.peers.get(string(s.ID))
		status := autopilot.NodeAlive
		if n.gossip != nil {
			switch n.gossip.state(string(s.ID)) {
			case GossipDead:
				status = autopilot.NodeFailed
			case GossipLeft:
				status = autopilot.NodeLeft
			case GossipUnknown:
				status = autopilot.NodeUnknown
			}
		}
		out[s.ID] = &autopilot.Server{
			ID: s.ID, Name: string(s.ID), Address: s.Address,
			NodeStatus: status, NodeType: autopilot.NodeVoter, Version: p.Version, RaftVersion: raft.ProtocolVersionMax,
			IsLeader: s.ID == leader,
		}
	}
	return out
}

// FetchServerStats asks every server for its Raft progress in parallel.
func (d *pilotDelegate) FetchServerStats(ctx context.Context, servers map[raft.ServerID]*autopilot.Server) map[raft.ServerID]*autopilot.ServerStats {
	n := d.n
	out := map[raft.ServerID]*autopilot.ServerStats{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for id := range servers {
		if string(id) == n.cfg.NodeID {
			self := &autopilot.ServerStats{
				LastContact: 0,
				LastTerm:    parseUint(n.raft.Stats()["last_log_term"]),
				LastIndex:   n.raft.LastIndex(),
			}
			mu.Lock()
			out[id] = self
			mu.Unlock()
			continue
		}
		p, ok := n.peers.get(string(id))
		if !ok || p.AdminAddr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := n.rpc.client(p.AdminAddr)
			if err != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			resp, err := c.Stats(cctx, &clusterpb.StatsRequest{})
			if err != nil {
				return
			}
			mu.Lock()
			out[id] = &autopilot.ServerStats{
				LastContact: time.Duration(resp.GetLastContactNanos()),
				LastTerm:    resp.GetLastTerm(),
				LastIndex:   resp.GetLastIndex(),
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// RemoveFailedServer removes a server gossip declared failed; autopilot only
// asks when CleanupDeadServers is on and MinQuorum allows it.
func (d *pilotDelegate) RemoveFailedServer(s *autopilot.Server) {
	n := d.n
	go func() {
		n.logger.Warn("removing failed server", "id", s.ID)
		if err := n.raft.RemoveServer(s.ID, 0, 10*time.Second).Error(); err != nil {
			n.logger.Warn("removing failed server", "id", s.ID, "err", err)
		}
	}()
}
