package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/kmsd/kmsd/proto/clusterpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Joining errors.
var (
	// ErrJoinRefused wraps every reason a join is refused; its text is
	// safe to show to the joining node and the operator.
	ErrJoinRefused = errors.New("cluster: join refused")
	// ErrNoJoinToken is a join attempted without a token.
	ErrNoJoinToken = errors.New("cluster: joining needs a join token: create one with `kmsctl cluster token create` on a member and pass it with --join-token (or --join-token-file, or KMSD_JOIN_TOKEN)")
	// ErrMalformedCommand refuses forwarded bytes that do not decode.
	ErrMalformedCommand = errors.New("cluster: forwarded command is malformed")
)

// Join token bounds.
const (
	joinTokenPrefix   = "kmsd-join-"
	DefaultJoinTTL    = 10 * time.Minute
	MaxJoinTTL        = 24 * time.Hour
	minJoinTTL        = 30 * time.Second
	maxJoinPublicKey  = 4096
	maxJoinTokenInput = 128
)

// JoinKeys is the joining node's side: a one-time key pair and what to do
// with the keys that arrive wrapped to it.
type JoinKeys interface {
	Public() []byte
	// Accept unwraps the cluster's keys and keeps them; record is the
	// leader's seal record.
	Accept(wrapped, info, record []byte) error
}

// hashJoinToken is what the state machine stores of a token.
func hashJoinToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// joinInfo binds wrapped keys to one join: the node and the token.
func joinInfo(nodeID string, tokenHash []byte) []byte {
	return fmt.Appendf(nil, "kmsd join v1\x00%s\x00%x", nodeID, tokenHash)
}

// CreateJoinToken creates a one-time token that admits one new node until
// it expires; only its hash is stored. actor names the operator.
func (n *Node) CreateJoinToken(ctx context.Context, ttl time.Duration, actor string) (string, time.Time, error) {
	if ttl == 0 {
		ttl = DefaultJoinTTL
	}
	if ttl < minJoinTTL || ttl > MaxJoinTTL {
		return "", time.Time{}, fmt.Errorf("%w: a join token lives between %v and %v", ErrInvalidArgument, minJoinTTL, MaxJoinTTL)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", time.Time{}, err
	}
	token := joinTokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	clear(secret)
	now := time.Now()
	expires := now.Add(ttl)
	entry, err := n.sm.EncodeCreateJoinToken(n.envelope(now, actor, nil), hashJoinToken(token), expires)
	if err != nil {
		return "", time.Time{}, err
	}
	res, err := n.Apply(ctx, entry)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := n.sm.Outcome(res); err != nil {
		return "", time.Time{}, fmt.Errorf("cluster: join token: %w", err)
	}
	return token, expires, nil
}

// envelope is the envelope of a command this package proposes itself. A
// nil request id gets a random one.
func (n *Node) envelope(now time.Time, actor string, requestID []byte) *kmsdpb.Command {
	if requestID == nil {
		requestID = make([]byte, 16)
		_, _ = rand.Read(requestID)
	}
	return &kmsdpb.Command{RequestId: requestID, TimeUnixNano: now.UnixNano(), Actor: actor}
}

// admit handles JoinCluster: on the leader it spends the token, adds the
// node as a non-voter and wraps the keys to the node's public key; a
// follower passes the request to the leader. from is the caller's node id:
// the joining node itself, or a member passing the request on.
func (n *Node) admit(ctx context.Context, from string, req *clusterpb.JoinClusterRequest) (*clusterpb.JoinClusterResponse, error) {
	if from != req.GetId() && !n.isMember(from) {
		n.logger.Warn("join request for another node from a non-member", "peer", from, "id", req.GetId())
		return nil, fmt.Errorf("%w: the certificate names %s, not %s", ErrJoinRefused, from, req.GetId())
	}
	if err := validJoinRequest(req); err != nil {
		return nil, err
	}
	var resp *clusterpb.JoinClusterResponse
	err := n.forwardToLeader(ctx,
		func() error {
			var err error
			resp, err = n.admitOnLeader(ctx, req)
			return err
		},
		func(c clusterpb.ClusterClient) error {
			var err error
			resp, err = c.JoinCluster(ctx, req)
			return err
		})
	return resp, err
}

func validJoinRequest(req *clusterpb.JoinClusterRequest) error {
	switch {
	case ValidNodeID(req.GetId()) != nil:
		return fmt.Errorf("%w: bad node id", ErrJoinRefused)
	case req.GetToken() == "":
		return fmt.Errorf("%w: no join token given", ErrJoinRefused)
	case len(req.GetToken()) > maxJoinTokenInput || !strings.HasPrefix(req.GetToken(), joinTokenPrefix):
		return fmt.Errorf("%w: that is not a join token (they start with %s)", ErrJoinRefused, joinTokenPrefix)
	case req.GetRaftAddr() == "" || req.GetAdminAddr() == "":
		return fmt.Errorf("%w: raft and admin addresses are required", ErrJoinRefused)
	case len(req.GetPublicKey()) == 0 || len(req.GetPublicKey()) > maxJoinPublicKey:
		return fmt.Errorf("%w: bad join public key", ErrJoinRefused)
	}
	return nil
}

func (n *Node) admitOnLeader(ctx context.Context, req *clusterpb.JoinClusterRequest) (*clusterpb.JoinClusterResponse, error) {
	id, addr := req.GetId(), req.GetRaftAddr()
	if n.inConfiguration(id) && !n.isServerAt(id, addr) {
		return nil, fmt.Errorf("%w: node id %s is already a member at another address; remove it first (kmsctl cluster remove %s)", ErrJoinRefused, id, id)
	}
	// The request id is the same for every attempt of this node with this
	// token: a retry after a lost answer gets the first answer again,
	// another node gets "unknown or already used".
	hash := hashJoinToken(req.GetToken())
	reqID := sha256.Sum256(append(append([]byte("kmsd join\x00"), hash...), id...))
	entry, err := n.sm.EncodeConsumeJoinToken(n.envelope(time.Now(), "node:"+id, reqID[:16]), hash, id)
	if err != nil {
		return nil, err
	}
	_, res, err := n.applyLocal(ctx, entry)
	if err != nil {
		return nil, err
	}
	if err := n.sm.Outcome(res); err != nil {
		n.logger.Warn("join refused", "id", id, "reason", err)
		return nil, fmt.Errorf("%w: %s", ErrJoinRefused, strings.TrimPrefix(err.Error(), "fsm: "))
	}
	wrapped, err := n.cfg.Barrier.WrapRootFor(req.GetPublicKey(), joinInfo(id, hash))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot wrap the keys to the join public key", ErrJoinRefused)
	}
	record, err := n.cfg.Barrier.Record()
	if err != nil {
		return nil, err
	}
	n.peers.put(peerInfo{ID: id, RaftAddr: addr, AdminAddr: req.GetAdminAddr(), KMIPAddr: req.GetKmipAddr(), GossipAddr: req.GetGossipAddr(), Version: req.GetVersion()})
	if !n.isServerAt(id, addr) {
		n.logger.Info("adding server", "id", id, "raft", addr)
		timeout := time.Until(deadline(ctx, n.cfg.ApplyTimeout))
		if err := mapRaftErr(n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout).Error()); err != nil {
			return nil, err
		}
	}
	resp := &clusterpb.JoinClusterResponse{WrappedKeys: wrapped, GossipAddrs: n.peers.gossipAddrs(), SealRecord: record}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			p, _ := n.peers.get(string(s.ID))
			resp.Peers = append(resp.Peers, &clusterpb.Peer{Id: string(s.ID), RaftAddr: string(s.Address), AdminAddr: p.AdminAddr})
		}
	}
	return resp, nil
}

// isServerAt reports whether the configuration has server id at addr.
func (n *Node) isServerAt(id, addr string) bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id && string(s.Address) == addr {
			return true
		}
	}
	return false
}

// Join makes this node a member of the cluster that the member at address
// (its admin/node gRPC address) belongs to, spending a join token: the
// leader adds it to Raft as a non-voter (autopilot promotes it once
// stable), hands it the cluster's keys wrapped to a key pair made for this
// join, and it joins the gossip pool.
func (n *Node) Join(ctx context.Context, address, token string) error {
	if n.hasConfiguration() {
		return ErrAlreadyClustered
	}
	if token == "" {
		return ErrNoJoinToken
	}
	if n.cfg.NewJoinKeys == nil {
		return errors.New("cluster: this node cannot receive keys (no NewJoinKeys)")
	}
	if n.sm.Count() > 0 {
		return ErrHasData
	}
	jk, err := n.cfg.NewJoinKeys()
	if err != nil {
		return err
	}
	c, err := n.rpc.client(address)
	if err != nil {
		return err
	}
	self, _ := n.peers.get(n.cfg.NodeID)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := c.JoinCluster(ctx, &clusterpb.JoinClusterRequest{
		Token: strings.TrimSpace(token), Id: self.ID, RaftAddr: self.RaftAddr, AdminAddr: self.AdminAddr,
		GossipAddr: self.GossipAddr, KmipAddr: self.KMIPAddr, Version: self.Version, PublicKey: jk.Public(),
	})
	if err := mapRPCErr(err); err != nil {
		return err
	}
	var ids []string
	for _, p := range resp.GetPeers() {
		if ValidNodeID(p.GetId()) != nil {
			continue
		}
		ids = append(ids, p.GetId())
		n.peers.put(peerInfo{ID: p.GetId(), RaftAddr: p.GetRaftAddr(), AdminAddr: p.GetAdminAddr()})
	}
	n.expect(ids)
	if err := jk.Accept(resp.GetWrappedKeys(), joinInfo(self.ID, hashJoinToken(strings.TrimSpace(token))), resp.GetSealRecord()); err != nil {
		return fmt.Errorf("cluster: the keys from the join cannot be opened: %w", err)
	}
	if n.gossip != nil {
		return n.gossip.join(resp.GetGossipAddrs())
	}
	return nil
}
