package main

import (
	"context"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/clusterpb"
)

// The host hands every call to the node and state machine of the current
// unsealed period; while sealed, calls fail with cluster.ErrSealed (or find
// nothing), and the KMIP gate answers before any of them is reached.

func (h *host) running() (*cluster.Node, error) {
	if rn := h.node.Load(); rn != nil {
		return rn, nil
	}
	return nil, cluster.ErrSealed
}

// Apply implements kmip.Replicator.
func (h *host) Apply(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	rn, err := h.running()
	if err != nil {
		return nil, err
	}
	return cluster.ApplyAs[*fsm.Result](ctx, rn, cmd)
}

// ReadBarrier implements kmip.Replicator.
func (h *host) ReadBarrier(ctx context.Context) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.ReadBarrier(ctx)
}

// Get implements kmip.Store.
func (h *host) Get(id string) (*fsm.Object, error) {
	if st := h.store.Load(); st != nil {
		return st.Get(id)
	}
	return nil, fsm.ErrNotFound
}

// Locate implements kmip.Store.
func (h *host) Locate(q fsm.Query) ([]string, int, error) {
	if st := h.store.Load(); st != nil {
		return st.Locate(q)
	}
	return nil, 0, cluster.ErrSealed
}

// Now implements kmip.Store.
func (h *host) Now(local time.Time) time.Time {
	if st := h.store.Load(); st != nil {
		return st.Now(local)
	}
	return local
}

// DataKey implements seal.KeySource.
func (h *host) DataKey(version uint32) ([]byte, bool) {
	if st := h.store.Load(); st != nil {
		return st.DataKey(version)
	}
	return nil, false
}

// LatestDataKey implements seal.KeySource.
func (h *host) LatestDataKey() (uint32, []byte, bool) {
	if st := h.store.Load(); st != nil {
		return st.LatestDataKey()
	}
	return 0, nil, false
}

// Join implements admin.Cluster: once joined (the join brings the keys),
// the node catches up and serves KMIP.
func (h *host) Join(ctx context.Context, address, token string) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	if err := rn.Join(ctx, address, token); err != nil {
		return err
	}
	if err := rn.WaitReady(ctx); err != nil {
		return err
	}
	h.serving.Store(!h.barrier.Sealed())
	return nil
}

// CreateJoinToken implements admin.Cluster.
func (h *host) CreateJoinToken(ctx context.Context, ttl time.Duration, actor string) (string, time.Time, error) {
	rn, err := h.running()
	if err != nil {
		return "", time.Time{}, err
	}
	return rn.CreateJoinToken(ctx, ttl, actor)
}

// Remove implements admin.Cluster.
func (h *host) Remove(ctx context.Context, id string) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.Remove(ctx, id)
}

// Members implements admin.Cluster.
func (h *host) Members(ctx context.Context) ([]cluster.Member, error) {
	rn, err := h.running()
	if err != nil {
		return nil, err
	}
	return rn.Members(ctx)
}

// Status implements admin.Cluster: a sealed node reports only who it is.
func (h *host) Status(ctx context.Context) (cluster.Status, error) {
	rn := h.node.Load()
	if rn == nil {
		return cluster.Status{ID: h.cfg.NodeID, Version: version, State: "sealed", Sealed: true, SealMethod: h.method()}, nil
	}
	st, err := rn.Status(ctx)
	st.SealMethod = h.method()
	return st, err
}

// TransferLeadership implements admin.Cluster.
func (h *host) TransferLeadership(ctx context.Context, id string) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.TransferLeadership(ctx, id)
}

// Snapshot implements admin.Cluster.
func (h *host) Snapshot(ctx context.Context, w io.Writer) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.Snapshot(ctx, w)
}

// Restore implements admin.Cluster.
func (h *host) Restore(ctx context.Context, r io.Reader, force bool) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	return rn.Restore(ctx, r, force)
}

// InspectSnapshot implements admin.Cluster.
func (h *host) InspectSnapshot(ctx context.Context, r io.Reader) (cluster.SnapshotInfo, error) {
	rn, err := h.running()
	if err != nil {
		return cluster.SnapshotInfo{}, err
	}
	return rn.InspectSnapshot(ctx, r)
}

// nodeService hands node-to-node calls to the running node.
type nodeService struct {
	clusterpb.UnimplementedClusterServer
	h *host
}

var errNodeSealed = status.Error(codes.Unavailable, "this node is sealed")

// call runs f against the running node's service.
func call[Resp any](s nodeService, f func(clusterpb.ClusterServer) (Resp, error)) (Resp, error) {
	rn := s.h.node.Load()
	if rn == nil {
		var zero Resp
		return zero, errNodeSealed
	}
	return f(rn.Service())
}

func (s nodeService) Forward(ctx context.Context, req *clusterpb.ForwardRequest) (*clusterpb.ForwardResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.ForwardResponse, error) { return c.Forward(ctx, req) })
}

func (s nodeService) ReadIndex(ctx context.Context, req *clusterpb.ReadIndexRequest) (*clusterpb.ReadIndexResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.ReadIndexResponse, error) { return c.ReadIndex(ctx, req) })
}

func (s nodeService) JoinCluster(ctx context.Context, req *clusterpb.JoinClusterRequest) (*clusterpb.JoinClusterResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.JoinClusterResponse, error) {
		return c.JoinCluster(ctx, req)
	})
}

func (s nodeService) RemoveServer(ctx context.Context, req *clusterpb.RemoveServerRequest) (*clusterpb.RemoveServerResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.RemoveServerResponse, error) {
		return c.RemoveServer(ctx, req)
	})
}

func (s nodeService) TransferLeadership(ctx context.Context, req *clusterpb.TransferLeadershipRequest) (*clusterpb.TransferLeadershipResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.TransferLeadershipResponse, error) {
		return c.TransferLeadership(ctx, req)
	})
}

func (s nodeService) Members(ctx context.Context, req *clusterpb.MembersRequest) (*clusterpb.MembersResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.MembersResponse, error) { return c.Members(ctx, req) })
}

func (s nodeService) Stats(ctx context.Context, req *clusterpb.StatsRequest) (*clusterpb.StatsResponse, error) {
	return call(s, func(c clusterpb.ClusterServer) (*clusterpb.StatsResponse, error) { return c.Stats(ctx, req) })
}
