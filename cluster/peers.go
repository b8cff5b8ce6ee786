package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// peerInfo is what a node advertises about itself through gossip.
type peerInfo struct {
	ID         string `json:"id"`
	RaftAddr   string `json:"raft"`
	AdminAddr  string `json:"admin"`
	KMIPAddr   string `json:"kmip,omitempty"`
	GossipAddr string `json:"gossip,omitempty"`
	Version    string `json:"version,omitempty"`
}

// peerBook maps node ids to their addresses. It is saved in the data folder
// so that a restarted node can find the gossip pool again.
type peerBook struct {
	path  string
	mu    sync.RWMutex
	peers map[string]peerInfo
}

func newPeerBook(path string) *peerBook {
	b := &peerBook{path: path, peers: map[string]peerInfo{}}
	if data, err := os.ReadFile(path); err == nil {
		var saved []peerInfo
		if json.Unmarshal(data, &saved) == nil {
			for _, p := range saved {
				if p.ID != "" {
					b.peers[p.ID] = p
				}
			}
		}
	}
	return b
}

func (b *peerBook) get(id string) (peerInfo, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p, ok := b.peers[id]
	return p, ok
}

// put records a peer, merging non-empty fields, and saves the book.
func (b *peerBook) put(p peerInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.peers[p.ID]
	merge := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	cur.ID = p.ID
	merge(&cur.RaftAddr, p.RaftAddr)
	merge(&cur.AdminAddr, p.AdminAddr)
	merge(&cur.KMIPAddr, p.KMIPAddr)
	merge(&cur.GossipAddr, p.GossipAddr)
	merge(&cur.Version, p.Version)
	if b.peers[p.ID] == cur {
		return
	}
	b.peers[p.ID] = cur
	b.saveLocked()
}

func (b *peerBook) all() []peerInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]peerInfo, 0, len(b.peers))
	for _, p := range b.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, c peerInfo) int {
		if a.ID < c.ID {
			return -1
		}
		if a.ID > c.ID {
			return 1
		}
		return 0
	})
	return out
}

func (b *peerBook) gossipAddrs() []string {
	var out []string
	for _, p := range b.all() {
		if p.GossipAddr != "" {
			out = append(out, p.GossipAddr)
		}
	}
	return out
}

func (b *peerBook) saveLocked() {
	list := make([]peerInfo, 0, len(b.peers))
	for _, p := range b.peers {
		list = append(list, p)
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return
	}
	tmp := b.path + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, filepath.Clean(b.path))
	}
}

func parseUint(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}
