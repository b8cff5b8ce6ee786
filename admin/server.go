package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// Cluster is what the admin API needs from the node it runs on;
// *cluster.Node satisfies it.
type Cluster interface {
	// Join makes this node join the cluster that the member at address
	// (its admin address) belongs to, spending a join token.
	Join(ctx context.Context, address, token string) error
	// CreateJoinToken creates a one-time join token; actor names the
	// operator. ttl 0 means the default.
	CreateJoinToken(ctx context.Context, ttl time.Duration, actor string) (string, time.Time, error)
	Remove(ctx context.Context, id string) error
	Members(ctx context.Context) ([]cluster.Member, error)
	Status(ctx context.Context) (cluster.Status, error)
	// TransferLeadership hands leadership to id; "" means any suitable
	// voter.
	TransferLeadership(ctx context.Context, id string) error
	// Snapshot streams a fresh snapshot of the state machine to w.
	Snapshot(ctx context.Context, w io.Writer) error
	// Restore replaces the whole cluster's state with the snapshot file
	// read from r (leader only). It must not apply anything when reading r
	// fails, and refuses a file of another cluster, one whose MAC does not
	// verify, and one older than the cluster's state unless force is set.
	Restore(ctx context.Context, r io.Reader, force bool) error
	// InspectSnapshot reads a snapshot file and says what it holds and
	// whether Restore would accept it.
	InspectSnapshot(ctx context.Context, r io.Reader) (cluster.SnapshotInfo, error)
}

// DefaultMaxSnapshotSize bounds a Restore stream unless Config says
// otherwise.
const DefaultMaxSnapshotSize int64 = 1 << 30

// chunkSize is the payload of one SnapshotChunk.
const chunkSize = 64 << 10

// Config configures a Server. Zero values get defaults.
type Config struct {
	Cluster Cluster // required
	Logger  *slog.Logger
	// MaxSnapshotSize bounds the bytes a Restore accepts; default 1 GiB.
	MaxSnapshotSize int64
	// Seal reports and changes this node's seal state; nil answers that
	// the node cannot be sealed or unseal through the API.
	Seal SealControl
	// Keyring rotates, rewraps, retires and lists data keys; nil answers
	// that this node has no keyring.
	Keyring KeyringControl
	// AccessPolicy holds the access policy of the KMIP port; nil answers that
	// this node keeps none.
	AccessPolicy AccessPolicy
	// PKI issues client certificates; nil answers that this node issues
	// none.
	PKI CertificateAuthority
	// AuditKeys verifies audit logs (VerifyAuditLog); nil answers that
	// this node cannot. MaxAuditLines and MaxAuditBytes bound one call;
	// defaults DefaultMaxAuditLines and DefaultMaxAuditBytes.
	AuditKeys     AuditKeys
	MaxAuditLines int64
	MaxAuditBytes int64
	// Revocation keeps the certificate deny list; nil answers that this
	// node keeps none.
	Revocation RevocationControl
	// Usage reads tenants' usage and quotas; nil answers that this node
	// keeps none.
	Usage UsageSource
}

// Server implements the kmsd.admin.v1.Admin service on top of a Cluster.
type Server struct {
	adminpb.UnimplementedAdminServer

	cfg    Config
	logger *slog.Logger
	health *health.Server
}

// NewServer returns a Server; it panics without a Cluster, which is a
// wiring bug.
func NewServer(cfg Config) *Server {
	if cfg.Cluster == nil {
		panic("admin: Config.Cluster is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSnapshotSize <= 0 {
		cfg.MaxSnapshotSize = DefaultMaxSnapshotSize
	}
	if cfg.MaxAuditLines <= 0 {
		cfg.MaxAuditLines = DefaultMaxAuditLines
	}
	if cfg.MaxAuditBytes <= 0 {
		cfg.MaxAuditBytes = DefaultMaxAuditBytes
	}
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(AdminServiceName, healthpb.HealthCheckResponse_SERVING)
	return &Server{cfg: cfg, logger: cfg.Logger.With("component", "admin"), health: h}
}

// Register adds the Admin service and the gRPC health service to g. Install
// the interceptors from Authorize (or ServerOptions) on g as well.
func (s *Server) Register(g *grpc.Server) {
	adminpb.RegisterAdminServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
}

// Shutdown reports NOT_SERVING on the health service, so that load
// balancers and probes stop sending traffic before the server stops.
func (s *Server) Shutdown() { s.health.Shutdown() }

// Join implements adminpb.AdminServer.
func (s *Server) Join(ctx context.Context, req *adminpb.JoinRequest) (*adminpb.JoinResponse, error) {
	if _, _, err := net.SplitHostPort(req.GetAddress()); err != nil {
		return nil, status.Error(codes.InvalidArgument, "address must be host:port")
	}
	s.logger.Info("join requested", "address", req.GetAddress(), "caller", caller(ctx))
	if err := s.cfg.Cluster.Join(ctx, req.GetAddress(), req.GetToken()); err != nil {
		return nil, s.toStatus(ctx, "Join", err)
	}
	return &adminpb.JoinResponse{}, nil
}

// CreateJoinToken implements adminpb.AdminServer. The token is shown once;
// the log names who created it and when it expires, never the token.
func (s *Server) CreateJoinToken(ctx context.Context, req *adminpb.CreateJoinTokenRequest) (*adminpb.CreateJoinTokenResponse, error) {
	if req.GetTtlNanos() < 0 {
		return nil, status.Error(codes.InvalidArgument, "ttl must not be negative")
	}
	token, expires, err := s.cfg.Cluster.CreateJoinToken(ctx, time.Duration(req.GetTtlNanos()), caller(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, "CreateJoinToken", err)
	}
	s.logger.Info("join token created", "caller", caller(ctx), "expires", expires.UTC().Format(time.RFC3339))
	return &adminpb.CreateJoinTokenResponse{Token: token, ExpiresUnixNano: expires.UnixNano()}, nil
}

// Remove implements adminpb.AdminServer.
func (s *Server) Remove(ctx context.Context, req *adminpb.RemoveRequest) (*adminpb.RemoveResponse, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	s.logger.Info("remove requested", "id", req.GetId(), "caller", caller(ctx))
	if err := s.cfg.Cluster.Remove(ctx, req.GetId()); err != nil {
		return nil, s.toStatus(ctx, "Remove", err)
	}
	return &adminpb.RemoveResponse{}, nil
}

// Members implements adminpb.AdminServer.
func (s *Server) Members(ctx context.Context, _ *adminpb.MembersRequest) (*adminpb.MembersResponse, error) {
	ms, err := s.cfg.Cluster.Members(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "Members", err)
	}
	resp := &adminpb.MembersResponse{Members: make([]*adminpb.Member, len(ms))}
	for i, m := range ms {
		resp.Members[i] = MemberToProto(m)
	}
	return resp, nil
}

// Status implements adminpb.AdminServer.
func (s *Server) Status(ctx context.Context, _ *adminpb.StatusRequest) (*adminpb.StatusResponse, error) {
	st, err := s.cfg.Cluster.Status(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, "Status", err)
	}
	return StatusToProto(st), nil
}

// TransferLeadership implements adminpb.AdminServer.
func (s *Server) TransferLeadership(ctx context.Context, req *adminpb.TransferLeadershipRequest) (*adminpb.TransferLeadershipResponse, error) {
	s.logger.Info("leadership transfer requested", "to", req.GetId(), "caller", caller(ctx))
	if err := s.cfg.Cluster.TransferLeadership(ctx, req.GetId()); err != nil {
		return nil, s.toStatus(ctx, "TransferLeadership", err)
	}
	return &adminpb.TransferLeadershipResponse{}, nil
}

// MemberToProto converts a cluster.Member for the wire; an unknown (negative)
// LastContact becomes -1.
func MemberToProto(m cluster.Member) *adminpb.Member {
	lc := int64(m.LastContact)
	if lc < 0 {
		lc = -1
	}
	return &adminpb.Member{
		Id:               m.ID,
		RaftAddress:      m.RaftAddr,
		AdminAddress:     m.AdminAddr,
		KmipAddress:      m.KMIPAddr,
		Version:          m.Version,
		Suffrage:         m.Suffrage,
		Leader:           m.Leader,
		Gossip:           m.Gossip,
		Healthy:          m.Healthy,
		LastContactNanos: lc,
		AppliedIndex:     m.AppliedIndex,
	}
}

// StatusToProto converts a cluster.Status for the wire.
func StatusToProto(st cluster.Status) *adminpb.StatusResponse {
	return &adminpb.StatusResponse{
		Id:                 st.ID,
		Version:            st.Version,
		State:              st.State,
		LeaderId:           st.LeaderID,
		LeaderAdminAddress: st.LeaderAdminAddr,
		Term:               st.Term,
		CommitIndex:        st.CommitIndex,
		AppliedIndex:       st.AppliedIndex,
		LastLogIndex:       st.LastLogIndex,
		Objects:            int64(st.Objects),
		Voters:             int32(st.Voters),
		Members:            int32(st.Members),
		Healthy:            st.Healthy,
		FailureTolerance:   int32(st.FailureTolerance),
		StoreDigest:        st.StoreDigest,
		Sealed:             st.Sealed,
		SealMethod:         st.SealMethod,
	}
}
