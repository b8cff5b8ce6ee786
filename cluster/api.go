package cluster

import (
	"errors"
	"time"
)

// Membership and administration errors.
var (
	ErrNoLeader      = errors.New("cluster: no leader")
	ErrUnknownMember = errors.New("cluster: no such member")
	ErrUnreachable   = errors.New("cluster: node unreachable")
	ErrBadSnapshot   = errors.New("cluster: snapshot rejected")
	// ErrSealed answers what a sealed node cannot do: it holds no keys and
	// takes no part in Raft until it is unsealed.
	ErrSealed = errors.New("cluster: this node is sealed; unseal it with `kmsctl operator unseal`")
)

// Suffrage of a Raft server.
const (
	SuffrageVoter    = "voter"
	SuffrageNonvoter = "nonvoter"
	SuffrageStaging  = "staging"
)

// Gossip states of a member, as memberlist sees it.
const (
	GossipAlive   = "alive"
	GossipSuspect = "suspect"
	GossipDead    = "dead"
	GossipLeft    = "left"
	GossipUnknown = "unknown"
)

// Member is one server of the cluster: its place in the Raft configuration
// and what gossip and autopilot know about it.
type Member struct {
	ID        string
	RaftAddr  string
	AdminAddr string // gRPC: admin API and node-to-node service
	KMIPAddr  string
	Version   string

	Suffrage string // SuffrageVoter, SuffrageNonvoter or SuffrageStaging
	Leader   bool
	Gossip   string // GossipAlive, ...
	Healthy  bool   // autopilot's verdict

	// LastContact is the time since the leader last heard from this server;
	// negative when unknown.
	LastContact  time.Duration
	AppliedIndex uint64
}

// Status is one node's view of itself and the cluster.
type Status struct {
	ID              string
	Version         string
	State           string // "leader", "follower", "candidate", "shutdown"
	LeaderID        string
	LeaderAdminAddr string

	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
	Objects      int

	Voters           int
	Members          int
	Healthy          bool // the cluster as autopilot sees it
	FailureTolerance int  // voters that may fail without losing quorum
	StoreDigest      string

	// Sealed: the node holds no keys, serves no KMIP and is not in Raft;
	// only ID, Version, State ("sealed") and SealMethod are set then.
	Sealed     bool
	SealMethod string
}
