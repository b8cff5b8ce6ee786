package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// gossip runs memberlist: failure detection and node metadata (addresses,
// version). Every message is encrypted and authenticated with the cluster's
// gossip key.
type gossip struct {
	n    *Node
	list *memberlist.Memberlist

	mu     sync.Mutex
	states map[string]string // node id → GossipAlive, GossipDead, GossipLeft
}

func startGossip(n *Node) (*gossip, error) {
	if len(n.cfg.GossipKey) != 32 {
		return nil, errors.New("cluster: gossip needs a 32-byte key")
	}
	host, portStr, err := net.SplitHostPort(n.cfg.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip port: %w", err)
	}
	g := &gossip{n: n, states: map[string]string{}}
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.cfg.NodeID
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = host, port
	mc.SecretKey = n.cfg.GossipKey
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Delegate = &metaDelegate{g: g}
	mc.Events = &eventDelegate{g: g}
	mc.Alive = &aliveDelegate{g: g}
	mc.Logger = log.New(slogWriter{n.cfg.Logger.With("component", "gossip")}, "", 0)
	mc.ProbeInterval = 500 * time.Millisecond
	mc.SuspicionMult = 3
	if g.list, err = memberlist.Create(mc); err != nil {
		return nil, fmt.Errorf("cluster: start gossip: %w", err)
	}
	if peers := g.others(n.peers.gossipAddrs()); len(peers) > 0 {
		if _, err := g.list.Join(peers); err != nil {
			n.logger.Info("no known gossip peer answered yet", "err", err)
		}
	}
	return g, nil
}

// others drops this node's own address.
func (g *gossip) others(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if a != g.n.cfg.GossipAddr {
			out = append(out, a)
		}
	}
	return out
}

func (g *gossip) join(addrs []string) error {
	if peers := g.others(addrs); len(peers) > 0 {
		if _, err := g.list.Join(peers); err != nil {
			return fmt.Errorf("%w: gossip: %v", ErrUnreachable, err)
		}
	}
	return nil
}

func (g *gossip) leave() {
	_ = g.list.Leave(2 * time.Second)
	_ = g.list.Shutdown()
}

// alive names the nodes gossip sees alive, this one included.
func (g *gossip) alive() []string {
	var out []string
	for _, m := range g.list.Members() {
		if m.State == memberlist.StateAlive {
			out = append(out, m.Name)
		}
	}
	return out
}

// state returns how gossip sees a node.
func (g *gossip) state(id string) string {
	if id == g.n.cfg.NodeID {
		return GossipAlive
	}
	for _, m := range g.list.Members() {
		if m.Name == id {
			switch m.State {
			case memberlist.StateAlive:
				return GossipAlive
			case memberlist.StateSuspect:
				return GossipSuspect
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.states[id]; ok {
		return s
	}
	return GossipUnknown
}

func (g *gossip) setState(id, s string) {
	g.mu.Lock()
	g.states[id] = s
	g.mu.Unlock()
}

type metaDelegate struct{ g *gossip }

func (d *metaDelegate) NodeMeta(limit int) []byte {
	p, _ := d.g.n.peers.get(d.g.n.cfg.NodeID)
	b, err := json.Marshal(p)
	if err != nil || len(b) > limit {
		return nil
	}
	return b
}

func (d *metaDelegate) NotifyMsg([]byte)                           {}
func (d *metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *metaDelegate) LocalState(join bool) []byte                { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

type eventDelegate struct{ g *gossip }

func (e *eventDelegate) learn(node *memberlist.Node) {
	var p peerInfo
	if json.Unmarshal(node.Meta, &p) == nil && p.ID == node.Name {
		e.g.n.peers.put(p)
	}
}

func (e *eventDelegate) NotifyJoin(node *memberlist.Node) {
	e.learn(node)
	e.g.setState(node.Name, GossipAlive)
}

func (e *eventDelegate) NotifyUpdate(node *memberlist.Node) {
	e.learn(node)
	e.g.setState(node.Name, GossipAlive)
}

func (e *eventDelegate) NotifyLeave(node *memberlist.Node) {
	s := GossipDead
	if node.State == memberlist.StateLeft {
		s = GossipLeft
	}
	e.g.setState(node.Name, s)
}

// aliveDelegate admits to the gossip pool only members of the Raft
// configuration (gossip is encrypted with the cluster's gossip key, but a
// node id must also be a member to be believed).
type aliveDelegate struct{ g *gossip }

func (a *aliveDelegate) NotifyAlive(node *memberlist.Node) error {
	if node.Name == a.g.n.cfg.NodeID || a.g.n.isMember(node.Name) {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotMember, node.Name)
}
