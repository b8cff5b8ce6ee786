package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the reasons
// (adminpb.ErrorReason) attached to error statuses.
const ErrorDomain = "admin.kmsd"

// ErrorInfo metadata keys of an ERROR_REASON_NOT_LEADER error.
const (
	MetaLeaderID        = "leader_id"
	MetaLeaderAdminAddr = "leader_admin_address"
)

// leaderLookupTimeout bounds the Status call that names the leader in a
// not-leader error.
const leaderLookupTimeout = 2 * time.Second

// errSnapshotTooLarge stops a Restore whose stream exceeds MaxSnapshotSize.
var errSnapshotTooLarge = errors.New("admin: snapshot too large")

// toStatus is the one place cluster errors become gRPC statuses. Only fixed
// texts reach the client; anything unexpected is logged and answered with a
// generic Internal error.
func (s *Server) toStatus(ctx context.Context, method string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrNotLeader):
		return s.notLeader(ctx)
	case errors.Is(err, cluster.ErrNoLeader):
		return withReason(codes.Unavailable, "no leader", adminpb.ErrorReason_ERROR_REASON_NO_LEADER, nil)
	case errors.Is(err, cluster.ErrUnknownMember):
		return withReason(codes.NotFound, "no such member", adminpb.ErrorReason_ERROR_REASON_UNKNOWN_MEMBER, nil)
	case errors.Is(err, cluster.ErrUnreachable):
		return withReason(codes.Unavailable, "node unreachable", adminpb.ErrorReason_ERROR_REASON_UNREACHABLE, nil)
	case errors.Is(err, cluster.ErrBadSnapshot):
		return withReason(codes.InvalidArgument, refusalText(err, cluster.ErrBadSnapshot), adminpb.ErrorReason_ERROR_REASON_BAD_SNAPSHOT, nil)
	case errors.Is(err, cluster.ErrForeignSnapshot):
		return withReason(codes.InvalidArgument, refusalText(err, cluster.ErrForeignSnapshot), adminpb.ErrorReason_ERROR_REASON_FOREIGN_SNAPSHOT, nil)
	case errors.Is(err, cluster.ErrTamperedSnapshot):
		return withReason(codes.InvalidArgument, refusalText(err, cluster.ErrTamperedSnapshot), adminpb.ErrorReason_ERROR_REASON_TAMPERED_SNAPSHOT, nil)
	case errors.Is(err, cluster.ErrOldSnapshot):
		return withReason(codes.FailedPrecondition, refusalText(err, cluster.ErrOldSnapshot), adminpb.ErrorReason_ERROR_REASON_OLD_SNAPSHOT, nil)
	case errors.Is(err, errSnapshotTooLarge):
		return withReason(codes.InvalidArgument,
			fmt.Sprintf("snapshot larger than %d bytes", s.cfg.MaxSnapshotSize),
			adminpb.ErrorReason_ERROR_REASON_SNAPSHOT_TOO_LARGE, nil)
	case errors.Is(err, cluster.ErrAlreadyClustered):
		return status.Error(codes.FailedPrecondition,
			"this node is already a member of a cluster; start it with an empty data folder to join another")
	case errors.Is(err, cluster.ErrHasData):
		return status.Error(codes.FailedPrecondition,
			"this node holds objects of another cluster; start it with an empty data folder to join")
	case errors.Is(err, cluster.ErrJoinRefused):
		// The cluster package words these reasons for operators.
		return withReason(codes.PermissionDenied, strings.TrimPrefix(err.Error(), "cluster: "),
			adminpb.ErrorReason_ERROR_REASON_BAD_JOIN_TOKEN, nil)
	case errors.Is(err, cluster.ErrNoJoinToken), errors.Is(err, cluster.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, strings.TrimPrefix(err.Error(), "cluster: "))
	case errors.Is(err, cluster.ErrSealed), errors.Is(err, seal.ErrSealed):
		return withReason(codes.Unavailable, "this node is sealed; unseal it with `kmsctl operator unseal`",
			adminpb.ErrorReason_ERROR_REASON_SEALED, nil)
	case errors.Is(err, seal.ErrWrongPassphrase), errors.Is(err, seal.ErrWrongPIN), errors.Is(err, seal.ErrWrongShares):
		return withReason(codes.PermissionDenied, strings.TrimPrefix(err.Error(), "seal: "),
			adminpb.ErrorReason_ERROR_REASON_WRONG_UNSEAL_KEY, nil)
	case errors.Is(err, seal.ErrBadShare), errors.Is(err, seal.ErrDuplicateShare), errors.Is(err, seal.ErrWrongMethod),
		errors.Is(err, seal.ErrAlreadyUnsealed), errors.Is(err, seal.ErrWeakPassphrase):
		return status.Error(codes.InvalidArgument, strings.TrimPrefix(err.Error(), "seal: "))
	case errors.Is(err, cluster.ErrKeyInUse):
		return withReason(codes.FailedPrecondition, strings.TrimPrefix(err.Error(), "cluster: "),
			adminpb.ErrorReason_ERROR_REASON_KEY_IN_USE, nil)
	case errors.Is(err, cluster.ErrKeyringChanged):
		return status.Error(codes.Aborted, strings.TrimPrefix(cluster.ErrKeyringChanged.Error(), "cluster: "))
	case errors.Is(err, cluster.ErrUnknownKeyVersion):
		return status.Error(codes.NotFound, strings.TrimPrefix(err.Error(), "cluster: "))
	case errors.Is(err, cluster.ErrNoKeyring), errors.Is(err, cluster.ErrRootBehind):
		return status.Error(codes.FailedPrecondition, strings.TrimPrefix(err.Error(), "cluster: "))
	case errors.Is(err, cluster.ErrShutdown):
		return status.Error(codes.Unavailable, "node is shutting down")
	case errors.Is(err, cluster.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "timed out")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	// The caller going away can surface as any error from below.
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return status.Error(codes.DeadlineExceeded, "timed out")
	case context.Canceled:
		return status.Error(codes.Canceled, "canceled")
	}
	s.logger.Error("admin request failed", "method", method, "caller", caller(ctx), "err", err)
	return status.Error(codes.Internal, "internal error")
}

// refusalText is what a client reads about a refused snapshot: the
// cluster's own words when it sent a *cluster.SnapshotRefusal, whose text
// is written for operators, else the sentinel's text.
func refusalText(err, sentinel error) string {
	var r *cluster.SnapshotRefusal
	if errors.As(err, &r) {
		return r.Text
	}
	return strings.TrimPrefix(sentinel.Error(), "cluster: ")
}

// notLeader builds the FailedPrecondition answer, naming the leader when
// this node knows it.
func (s *Server) notLeader(ctx context.Context) error {
	msg := "not the leader"
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaderLookupTimeout)
	defer cancel()
	st, err := s.cfg.Cluster.Status(ctx)
	if err != nil || st.LeaderID == "" && st.LeaderAdminAddr == "" {
		return withReason(codes.FailedPrecondition, msg+"; leader unknown", adminpb.ErrorReason_ERROR_REASON_NOT_LEADER, nil)
	}
	msg += "; leader is " + st.LeaderID
	if st.LeaderAdminAddr != "" {
		msg += " at " + st.LeaderAdminAddr
	}
	return withReason(codes.FailedPrecondition, msg, adminpb.ErrorReason_ERROR_REASON_NOT_LEADER,
		map[string]string{MetaLeaderID: st.LeaderID, MetaLeaderAdminAddr: st.LeaderAdminAddr})
}

// withReason returns a status error carrying an ErrorInfo detail.
func withReason(c codes.Code, msg string, reason adminpb.ErrorReason, meta map[string]string) error {
	st := status.New(c, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason.String(), Domain: ErrorDomain, Metadata: meta}); err == nil {
		st = d
	}
	return st.Err()
}
