package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/proto/adminpb"
)

type env struct {
	fake *admintest.FakeCluster
	pki  *admintest.PKI
	addr string
}

func start(t *testing.T, opts admintest.Options) *env {
	t.Helper()
	e := &env{fake: admintest.NewFakeCluster(), pki: admintest.NewPKI(t)}
	e.addr = e.pki.Serve(t, e.fake, opts)
	return e
}

// client dials the server with a certificate whose Organization is org.
func (e *env) client(t *testing.T, org string) adminpb.AdminClient {
	t.Helper()
	return adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.ClientTLS(t, org)))
}

// wantStatus checks err's code and that its message contains msg.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("err = %v, want %v containing %q", err, code, msg)
	}
}

// errorInfo returns the ErrorInfo detail of err, or nil.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func TestUnaryHappyPaths(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	ctx := t.Context()

	if _, err := c.Join(ctx, &adminpb.JoinRequest{Address: "10.0.0.9:5697", Token: "kmsd-join-t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransferLeadership(ctx, &adminpb.TransferLeadershipRequest{Id: "n2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransferLeadership(ctx, &adminpb.TransferLeadershipRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(ctx, &adminpb.RemoveRequest{Id: "n3"}); err != nil {
		t.Fatal(err)
	}
	ms, err := c.Members(ctx, &adminpb.MembersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Join 10.0.0.9:5697 kmsd-join-t", "TransferLeadership n2", "TransferLeadership ", "Remove n3", "Members"}
	if got := e.fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if len(ms.GetMembers()) != 2 {
		t.Fatalf("members = %v, want n1 and n2", ms.GetMembers())
	}
	n2 := ms.GetMembers()[1]
	if n2.GetId() != "n2" || n2.GetRaftAddress() != "10.0.0.2:7000" || n2.GetAdminAddress() != "10.0.0.2:5697" ||
		n2.GetKmipAddress() != "10.0.0.2:5696" || n2.GetSuffrage() != cluster.SuffrageVoter || n2.GetLeader() ||
		n2.GetGossip() != cluster.GossipAlive || !n2.GetHealthy() ||
		n2.GetLastContactNanos() != int64(12*time.Millisecond) || n2.GetAppliedIndex() != 41 {
		t.Errorf("n2 = %v", n2)
	}

	st, err := c.Status(ctx, &adminpb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetId() != "n1" || st.GetState() != "leader" || st.GetLeaderAdminAddress() != "10.0.0.1:5697" ||
		st.GetTerm() != 3 || st.GetObjects() != 17 || st.GetVoters() != 2 || st.GetMembers() != 3 || !st.GetHealthy() {
		t.Errorf("status = %v", st)
	}
}

func TestMemberToProtoUnknownContact(t *testing.T) {
	for _, d := range []time.Duration{-1, -time.Hour} {
		if got := admin.MemberToProto(cluster.Member{LastContact: d}).GetLastContactNanos(); got != -1 {
			t.Errorf("LastContact %v -> %d, want -1", d, got)
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	_, err := c.Join(t.Context(), &adminpb.JoinRequest{Address: "no-port"})
	wantStatus(t, err, codes.InvalidArgument, "host:port")
	_, err = c.Remove(t.Context(), &adminpb.RemoveRequest{})
	wantStatus(t, err, codes.InvalidArgument, "id is required")
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("cluster was called: %q", calls)
	}
}

func TestErrorMapping(t *testing.T) {
	secret := errors.New("bolt: open /var/lib/kmsd/raft/raft.db: key 0xdeadbeef corrupt")
	tests := []struct {
		name   string
		err    error
		leader cluster.Status
		code   codes.Code
		msg    string
		reason adminpb.ErrorReason
	}{
		{"not leader, leader known", fmt.Errorf("%w: raft says so", cluster.ErrNotLeader),
			cluster.Status{LeaderID: "n2", LeaderAdminAddr: "10.0.0.2:5697"},
			codes.FailedPrecondition, "not the leader; leader is n2 at 10.0.0.2:5697", adminpb.ErrorReason_ERROR_REASON_NOT_LEADER},
		{"not leader, leader unknown", cluster.ErrNotLeader, cluster.Status{},
			codes.FailedPrecondition, "not the leader; leader unknown", adminpb.ErrorReason_ERROR_REASON_NOT_LEADER},
		{"no leader", cluster.ErrNoLeader, cluster.Status{}, codes.Unavailable, "no leader", adminpb.ErrorReason_ERROR_REASON_NO_LEADER},
		{"unknown member", fmt.Errorf("remove: %w", cluster.ErrUnknownMember), cluster.Status{},
			codes.NotFound, "no such member", adminpb.ErrorReason_ERROR_REASON_UNKNOWN_MEMBER},
		{"unreachable", cluster.ErrUnreachable, cluster.Status{}, codes.Unavailable, "node unreachable", adminpb.ErrorReason_ERROR_REASON_UNREACHABLE},
		{"bad snapshot", cluster.ErrBadSnapshot, cluster.Status{}, codes.InvalidArgument, "snapshot rejected", adminpb.ErrorReason_ERROR_REASON_BAD_SNAPSHOT},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), cluster.Status{}, codes.DeadlineExceeded, "timed out", 0},
		{"canceled", context.Canceled, cluster.Status{}, codes.Canceled, "canceled", 0},
		{"raft timeout", cluster.ErrTimeout, cluster.Status{}, codes.DeadlineExceeded, "timed out", 0},
		{"shutdown", cluster.ErrShutdown, cluster.Status{}, codes.Unavailable, "shutting down", 0},
		{"already clustered", cluster.ErrAlreadyClustered, cluster.Status{}, codes.FailedPrecondition, "already a member of a cluster", 0},
		{"join refused", fmt.Errorf("%w: join token expired", cluster.ErrJoinRefused), cluster.Status{},
			codes.PermissionDenied, "join refused: join token expired", adminpb.ErrorReason_ERROR_REASON_BAD_JOIN_TOKEN},
		{"no join token", cluster.ErrNoJoinToken, cluster.Status{}, codes.InvalidArgument, "joining needs a join token", 0},
		{"sealed", cluster.ErrSealed, cluster.Status{}, codes.Unavailable, "this node is sealed", adminpb.ErrorReason_ERROR_REASON_SEALED},
		{"has data", cluster.ErrHasData, cluster.Status{}, codes.FailedPrecondition, "holds objects of another cluster", 0},
		{"internal", secret, cluster.Status{}, codes.Internal, "internal error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			e := start(t, admintest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			e.fake.SetStatus(tt.leader)
			e.fake.SetError("TransferLeadership", tt.err)
			_, err := e.client(t, admin.AdminOrganization).TransferLeadership(t.Context(), &adminpb.TransferLeadershipRequest{Id: "n2"})
			wantStatus(t, err, tt.code, tt.msg)
			info := errorInfo(err)
			if tt.reason == 0 {
				if info != nil {
					t.Errorf("unexpected detail %v", info)
				}
			} else if info == nil || info.GetReason() != tt.reason.String() || info.GetDomain() != admin.ErrorDomain {
				t.Errorf("detail = %v, want reason %v", info, tt.reason)
			}
			if strings.Contains(err.Error(), "bolt") || strings.Contains(err.Error(), "deadbeef") {
				t.Errorf("internal error text reached the client: %v", err)
			}
			if tt.err == secret && !strings.Contains(logs.String(), "deadbeef") {
				t.Errorf("internal error not logged; log:\n%s", logs.String())
			}
		})
	}
}

func TestNotLeaderMetadata(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetStatus(cluster.Status{ID: "n3", State: "follower", LeaderID: "n1", LeaderAdminAddr: "10.0.0.1:5697"})
	e.fake.SetError("Remove", cluster.ErrNotLeader)
	_, err := e.client(t, admin.AdminOrganization).Remove(t.Context(), &adminpb.RemoveRequest{Id: "n2"})
	wantStatus(t, err, codes.FailedPrecondition, "leader is n1 at 10.0.0.1:5697")
	md := errorInfo(err).GetMetadata()
	if md[admin.MetaLeaderID] != "n1" || md[admin.MetaLeaderAdminAddr] != "10.0.0.1:5697" {
		t.Errorf("metadata = %v", md)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		t.Fatal(err)
	}
	return b
}
