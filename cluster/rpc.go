package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/proto/clusterpb"
)

// rpcClients keeps one gRPC connection per peer admin address. A peer
// must present a node certificate that admits accepts.
type rpcClients struct {
	tls     *tls.Config
	anchors []*x509.Certificate
	admits  func(id string) bool
	guard   *denylist.Guard
	dialer  net.Dialer // its LocalAddr is the node's own address, if it names one
	mu      sync.Mutex
	conns   map[string]*grpc.ClientConn
}

func newRPCClients(cfg *tls.Config, anchors []*x509.Certificate, admits func(string) bool, guard *denylist.Guard, local *net.TCPAddr) *rpcClients {
	r := &rpcClients{tls: cfg, anchors: anchors, admits: admits, guard: guard, conns: map[string]*grpc.ClientConn{}}
	if local != nil {
		r.dialer.LocalAddr = local
	}
	return r
}

func (r *rpcClients) client(addr string) (clusterpb.ClusterClient, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.conns[addr]; ok {
		return clusterpb.NewClusterClient(c), nil
	}
	cfg := denylist.Chain(r.guard.TLS(r.tls), func(cs tls.ConnectionState) error {
		id, ok := peerNodeID(cs, r.anchors)
		if !ok {
			return errNotANode
		}
		if !r.admits(id) {
			return fmt.Errorf("%w: %s", ErrNotMember, id)
		}
		return nil
	})
	if host, _, err := net.SplitHostPort(addr); err == nil && cfg.ServerName == "" {
		cfg.ServerName = host
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(r.guard.Credentials(credentials.NewTLS(cfg), "node-service client")),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return r.dialer.DialContext(ctx, "tcp", a) }))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	r.conns[addr] = c
	return clusterpb.NewClusterClient(c), nil
}

func (r *rpcClients) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for addr, c := range r.conns {
		c.Close()
		delete(r.conns, addr)
	}
}

// rpcTimeout bounds one node-to-node call that has no deadline of its own.
const rpcTimeout = 10 * time.Second

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, rpcTimeout)
}

func (r *rpcClients) forward(ctx context.Context, addr string, cmd []byte) (*clusterpb.ForwardResponse, error) {
	c, err := r.client(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := c.Forward(ctx, &clusterpb.ForwardRequest{Command: cmd})
	return resp, mapRPCErr(err)
}

func (r *rpcClients) readIndex(ctx context.Context, addr string) (*clusterpb.ReadIndexResponse, error) {
	c, err := r.client(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	resp, err := c.ReadIndex(ctx, &clusterpb.ReadIndexRequest{})
	return resp, mapRPCErr(err)
}

// statusCodes is how errors travel between nodes as the node service's
// gRPC status codes: the sentinels that answer with a code and its fixed
// text (empty: the sentinel's own text, a fixed one chosen by this package;
// never anything internal), and what the code decodes as on the calling
// node, given the peer's message. A code decodes by its first row (back is
// nil in the others). Anything else answers Internal "internal error" and
// decodes as a peer failure.
var statusCodes = []struct {
	code codes.Code
	errs []error
	text string
	back func(msg string) error
}{
	{codes.FailedPrecondition, []error{ErrNotLeader}, "not the leader", func(string) error { return ErrNotLeader }},
	{codes.Unavailable, []error{ErrNoLeader, ErrShutdown, ErrUnreachable}, "no leader", wrapped(ErrUnreachable)},
	{codes.DeadlineExceeded, []error{ErrTimeout, context.DeadlineExceeded}, "timed out", wrapped(ErrTimeout)},
	{codes.Canceled, nil, "", wrapped(ErrTimeout)},
	{codes.ResourceExhausted, []error{ErrTooLarge}, "command too large", func(string) error { return ErrTooLarge }},
	{codes.NotFound, []error{ErrUnknownMember}, "no such member", func(string) error { return ErrUnknownMember }},
	{codes.PermissionDenied, []error{ErrJoinRefused, ErrMalformedCommand}, "", func(msg string) error {
		return fmt.Errorf("%w: %s", ErrJoinRefused, strings.TrimPrefix(msg, ErrJoinRefused.Error()+": "))
	}},
	{codes.PermissionDenied, []error{ErrNotMember}, "not a member of this cluster", nil},
}

func wrapped(sentinel error) func(string) error {
	return func(msg string) error { return fmt.Errorf("%w: %s", sentinel, msg) }
}

// toStatus turns an error into the node service's status.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	for _, row := range statusCodes {
		for _, sentinel := range row.errs {
			if errors.Is(err, sentinel) {
				text := row.text
				if text == "" {
					text = err.Error()
				}
				return status.Error(row.code, text)
			}
		}
	}
	return status.Error(codes.Internal, "internal error")
}

// mapRPCErr turns a node-service status back into our sentinels.
func mapRPCErr(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	for _, row := range statusCodes {
		if row.code == st.Code() && row.back != nil {
			return row.back(st.Message())
		}
	}
	return fmt.Errorf("cluster: peer failed: %s", st.Message())
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// RegisterGRPC adds the node-to-node service to a gRPC server. The service
// checks its callers itself, whatever interceptors the server has.
func (n *Node) RegisterGRPC(s *grpc.Server) {
	clusterpb.RegisterClusterServer(s, n.Service())
}

// Service is the node-to-node service of this node, for a server that
// registers it once and hands calls to whichever Node currently runs.
func (n *Node) Service() clusterpb.ClusterServer { return &nodeService{n: n} }

var errNotAuthorised = status.Error(codes.PermissionDenied, "not authorised")

// callerNode returns the node id of a caller whose verified chain ends at
// the node CA and whose certificate names a node.
func (n *Node) callerNode(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", errNotAuthorised
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", errNotAuthorised
	}
	id, ok := peerNodeID(info.State, n.cfg.NodeCAs)
	if !ok {
		return "", errNotAuthorised
	}
	return id, nil
}

// requireMember admits only nodes that are members of the cluster.
func (n *Node) requireMember(ctx context.Context) (string, error) {
	id, err := n.callerNode(ctx)
	if err != nil {
		return "", err
	}
	if !n.isMember(id) {
		n.logger.Warn("node service call from a node that is not a member", "peer", id)
		return "", status.Error(codes.PermissionDenied, "not a member of this cluster")
	}
	return id, nil
}

// nodeService answers other nodes.
type nodeService struct {
	clusterpb.UnimplementedClusterServer
	n *Node
}

// Forward proposes a member's command. The command is decoded and checked
// before it is proposed: forwarded bytes never reach a state machine that
// would have to refuse them.
func (s *nodeService) Forward(ctx context.Context, req *clusterpb.ForwardRequest) (*clusterpb.ForwardResponse, error) {
	from, err := s.n.requireMember(ctx)
	if err != nil {
		return nil, err
	}
	n := s.n
	if len(req.GetCommand()) > n.cfg.MaxCommandSize {
		return nil, toStatus(ErrTooLarge)
	}
	if err := n.sm.ValidateCommand(req.GetCommand()); err != nil {
		n.logger.Warn("refused a forwarded command that does not decode", "peer", from, "bytes", len(req.GetCommand()), "err", err)
		return nil, toStatus(ErrMalformedCommand)
	}
	if !n.IsLeader() {
		return nil, toStatus(ErrNotLeader)
	}
	index, res, err := n.applyLocal(ctx, req.GetCommand())
	if err != nil {
		return nil, toStatus(err)
	}
	b, err := n.sm.EncodeResult(res)
	if err != nil {
		n.logger.Error("cannot encode a result for a forwarded command", "err", err)
		return nil, toStatus(err)
	}
	return &clusterpb.ForwardResponse{Index: index, Result: b}, nil
}

func (s *nodeService) ReadIndex(ctx context.Context, _ *clusterpb.ReadIndexRequest) (*clusterpb.ReadIndexResponse, error) {
	if _, err := s.n.requireMember(ctx); err != nil {
		return nil, err
	}
	if !s.n.IsLeader() {
		return nil, toStatus(ErrNotLeader)
	}
	index, err := s.n.leaderReadIndex(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &clusterpb.ReadIndexResponse{CommitIndex: index}, nil
}

func (s *nodeService) JoinCluster(ctx context.Context, req *clusterpb.JoinClusterRequest) (*clusterpb.JoinClusterResponse, error) {
	from, err := s.n.callerNode(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.n.admit(ctx, from, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

func (s *nodeService) RemoveServer(ctx context.Context, req *clusterpb.RemoveServerRequest) (*clusterpb.RemoveServerResponse, error) {
	if _, err := s.n.requireMember(ctx); err != nil {
		return nil, err
	}
	if err := s.n.Remove(ctx, req.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &clusterpb.RemoveServerResponse{}, nil
}

func (s *nodeService) TransferLeadership(ctx context.Context, req *clusterpb.TransferLeadershipRequest) (*clusterpb.TransferLeadershipResponse, error) {
	if _, err := s.n.requireMember(ctx); err != nil {
		return nil, err
	}
	if err := s.n.TransferLeadership(ctx, req.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &clusterpb.TransferLeadershipResponse{}, nil
}

func (s *nodeService) Members(ctx context.Context, _ *clusterpb.MembersRequest) (*clusterpb.MembersResponse, error) {
	if _, err := s.n.requireMember(ctx); err != nil {
		return nil, err
	}
	if !s.n.IsLeader() {
		return nil, toStatus(ErrNotLeader)
	}
	members, err := s.n.localMembers()
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &clusterpb.MembersResponse{}
	for _, m := range members {
		resp.Members = append(resp.Members, memberToProto(m))
	}
	return resp, nil
}

func (s *nodeService) Stats(ctx context.Context, _ *clusterpb.StatsRequest) (*clusterpb.StatsResponse, error) {
	if _, err := s.n.requireMember(ctx); err != nil {
		return nil, err
	}
	n := s.n
	return &clusterpb.StatsResponse{
		Id:               n.cfg.NodeID,
		LastTerm:         parseUint(n.raft.Stats()["last_log_term"]),
		LastIndex:        n.raft.LastIndex(),
		AppliedIndex:     n.raft.AppliedIndex(),
		LastContactNanos: int64(n.lastContact()),
	}, nil
}

// lastContact is the time since this node heard from the leader; zero on
// the leader, negative when never.
func (n *Node) lastContact() time.Duration {
	if n.IsLeader() {
		return 0
	}
	t := n.raft.LastContact()
	if t.IsZero() {
		return -1
	}
	return time.Since(t)
}
