package admin

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// SealState is a node's seal state as the admin API reports it.
type SealState struct {
	Sealed    bool
	Method    string // file, passphrase, shamir or pkcs11; "" before keys
	ClusterID string
	// Shamir: shares needed, issued, and given so far.
	Threshold, Shares, Progress int
}

// UnsealInput is one unseal attempt: exactly one of the keys, or Reset.
type UnsealInput struct {
	Passphrase []byte
	Share      string
	PIN        string
	Reset      bool
}

// SealControl is what the seal RPCs need from the node.
type SealControl interface {
	SealState() SealState
	// Unseal tries the input; remaining is the number of Shamir shares
	// still needed (0 once unsealed).
	Unseal(ctx context.Context, in UnsealInput) (remaining int, err error)
	// Seal forgets the keys, stops serving KMIP and leaves Raft.
	Seal(ctx context.Context) error
}

func (s *Server) sealControl() (SealControl, error) {
	if s.cfg.Seal == nil {
		return nil, status.Error(codes.Unimplemented, "this node cannot be sealed or unsealed through the admin API")
	}
	return s.cfg.Seal, nil
}

// SealStatus implements adminpb.AdminServer.
func (s *Server) SealStatus(context.Context, *adminpb.SealStatusRequest) (*adminpb.SealStatusResponse, error) {
	sc, err := s.sealControl()
	if err != nil {
		return nil, err
	}
	st := sc.SealState()
	return &adminpb.SealStatusResponse{
		Sealed: st.Sealed, Method: st.Method, ClusterId: st.ClusterID,
		Threshold: int32(st.Threshold), Shares: int32(st.Shares), Progress: int32(st.Progress),
	}, nil
}

// maxUnsealInput bounds a passphrase, share or PIN.
const maxUnsealInput = 4096

// Unseal implements adminpb.AdminServer. The log names the caller and the
// kind of input, never the input.
func (s *Server) Unseal(ctx context.Context, req *adminpb.UnsealRequest) (*adminpb.UnsealResponse, error) {
	sc, err := s.sealControl()
	if err != nil {
		return nil, err
	}
	in := UnsealInput{Passphrase: req.GetPassphrase(), Share: req.GetShare(), PIN: req.GetPin(), Reset: req.GetReset_()}
	defer clear(in.Passphrase)
	given := 0
	for _, l := range []int{len(in.Passphrase), len(in.Share), len(in.PIN)} {
		if l > maxUnsealInput {
			return nil, status.Error(codes.InvalidArgument, "unseal input too long")
		}
		if l > 0 {
			given++
		}
	}
	if given == 0 && !in.Reset && sc.SealState().Method != "file" {
		return nil, status.Error(codes.InvalidArgument, "give a passphrase, a share or a PIN")
	}
	kind := "none"
	switch {
	case in.Reset:
		kind = "reset"
	case len(in.Passphrase) > 0:
		kind = "passphrase"
	case in.Share != "":
		kind = "share"
	case in.PIN != "":
		kind = "pin"
	}
	remaining, err := sc.Unseal(ctx, in)
	if err != nil {
		s.logger.Warn("unseal attempt refused", "caller", caller(ctx), "input", kind)
		return nil, s.toStatus(ctx, "Unseal", err)
	}
	st := sc.SealState()
	s.logger.Info("unseal input accepted", "caller", caller(ctx), "input", kind, "sealed", st.Sealed, "remaining", remaining)
	return &adminpb.UnsealResponse{Sealed: st.Sealed, Remaining: int32(remaining)}, nil
}

// Seal implements adminpb.AdminServer.
func (s *Server) Seal(ctx context.Context, _ *adminpb.SealRequest) (*adminpb.SealResponse, error) {
	sc, err := s.sealControl()
	if err != nil {
		return nil, err
	}
	s.logger.Warn("seal requested", "caller", caller(ctx))
	if err := sc.Seal(ctx); err != nil {
		return nil, s.toStatus(ctx, "Seal", err)
	}
	return &adminpb.SealResponse{}, nil
}
