package admin

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// KeyringControl is what the keyring RPCs need from the node;
// *cluster.Node satisfies it. actor names the operator.
type KeyringControl interface {
	RotateKey(ctx context.Context, actor string) (version uint32, err error)
	Rewrap(ctx context.Context, batch int, progress func(cluster.RewrapProgress)) (cluster.RewrapProgress, error)
	RetireKey(ctx context.Context, version uint32, actor string) error
	Keyring(ctx context.Context) (versions []seal.KeyVersion, unreadable int, err error)
}

func (s *Server) keyring() (KeyringControl, error) {
	if s.cfg.Keyring == nil {
		return nil, status.Error(codes.Unimplemented, "this node has no keyring")
	}
	return s.cfg.Keyring, nil
}

// RotateKey implements adminpb.AdminServer.
func (s *Server) RotateKey(ctx context.Context, _ *adminpb.RotateKeyRequest) (*adminpb.RotateKeyResponse, error) {
	k, err := s.keyring()
	if err != nil {
		return nil, err
	}
	v, err := k.RotateKey(ctx, caller(ctx))
	if err != nil {
		s.logger.Warn("data key rotation failed", "caller", caller(ctx), "err", err)
		return nil, s.toStatus(ctx, "RotateKey", err)
	}
	s.logger.Info("data key rotated", "caller", caller(ctx), "version", v)
	return &adminpb.RotateKeyResponse{Version: v}, nil
}

// Rewrap implements adminpb.AdminServer: one message after every batch,
// the last one with done set. Objects whose material does not open count
// as skipped here (the node logs them by id). A client that goes away
// cancels the rewrap; running it again continues.
func (s *Server) Rewrap(req *adminpb.RewrapRequest, stream adminpb.Admin_RewrapServer) error {
	k, err := s.keyring()
	if err != nil {
		return err
	}
	if b := req.GetBatch(); b < 0 || b > cluster.MaxRewrapBatch {
		return status.Errorf(codes.InvalidArgument, "batch must be 0 (the default, %d) to %d objects", cluster.DefaultRewrapBatch, cluster.MaxRewrapBatch)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	who := caller(ctx)
	s.logger.Info("rewrap started", "caller", who, "batch", req.GetBatch())
	var sendErr error
	p, err := k.Rewrap(ctx, int(req.GetBatch()), func(p cluster.RewrapProgress) {
		if sendErr != nil {
			return
		}
		if sendErr = stream.Send(RewrapProgressToProto(p)); sendErr != nil {
			cancel()
		}
	})
	attrs := []any{"caller", who, "version", p.Version, "total", p.Total, "current", p.Current,
		"rewrapped", p.Rewrapped, "skipped", p.Skipped, "failed", p.Failed}
	if err == nil && sendErr == nil {
		s.logger.Info("rewrap finished", attrs...)
		return nil
	}
	s.logger.Warn("rewrap stopped", append(attrs, "err", err, "send_err", sendErr)...)
	if err == nil {
		return status.Error(codes.Canceled, "canceled")
	}
	return s.toStatus(stream.Context(), "Rewrap", err)
}

// RewrapProgressToProto converts progress for the wire; material that does
// not open counts as skipped.
func RewrapProgressToProto(p cluster.RewrapProgress) *adminpb.RewrapProgress {
	return &adminpb.RewrapProgress{
		Version: p.Version, Total: int64(p.Total), Current: int64(p.Current),
		Rewrapped: int64(p.Rewrapped), Skipped: int64(p.Skipped + p.Failed), Done: p.Done,
	}
}

// RetireKey implements adminpb.AdminServer.
func (s *Server) RetireKey(ctx context.Context, req *adminpb.RetireKeyRequest) (*adminpb.RetireKeyResponse, error) {
	k, err := s.keyring()
	if err != nil {
		return nil, err
	}
	if req.GetVersion() == 0 {
		return nil, status.Error(codes.InvalidArgument, "version is required (data key versions start at 1)")
	}
	s.logger.Warn("data key retire requested", "caller", caller(ctx), "version", req.GetVersion())
	if err := k.RetireKey(ctx, req.GetVersion(), caller(ctx)); err != nil {
		return nil, s.toStatus(ctx, "RetireKey", err)
	}
	s.logger.Warn("data key retired and root key replaced", "caller", caller(ctx), "version", req.GetVersion())
	return &adminpb.RetireKeyResponse{}, nil
}

// Keyring implements adminpb.AdminServer.
func (s *Server) Keyring(ctx context.Context, _ *adminpb.KeyringRequest) (*adminpb.KeyringResponse, error) {
	k, err := s.keyring()
	if err != nil {
		return nil, err
	}
	versions, unreadable, err := k.Keyring(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "Keyring", err)
	}
	resp := &adminpb.KeyringResponse{Unreadable: int64(unreadable)}
	for _, v := range versions {
		resp.Versions = append(resp.Versions, &adminpb.KeyVersion{
			Version: v.Version, CreatedUnixNano: v.Created.UnixNano(), Objects: int64(v.Objects), Latest: v.Latest,
		})
	}
	return resp, nil
}
