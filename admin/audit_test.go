package admin_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/audit/audittest"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

type adminLine struct {
	Identity, Role, Operation, Result, Reason, Remote, Tenant string
	Objects                                                   []string
	Item                                                      *int
	Request                                                   string
}

// memKeys is the replicated keyring, in memory.
type memKeys struct {
	mu   sync.Mutex
	keys map[uint32][]byte
}

func (m *memKeys) DataKey(v uint32) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[v]
	return k, ok
}

func (m *memKeys) LatestDataKey() (uint32, []byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[1]
	return 1, k, ok
}

// newBarrier is an unsealed barrier with data key version 1.
func newBarrier(t *testing.T) *seal.Barrier {
	t.Helper()
	src := &memKeys{keys: map[uint32][]byte{}}
	b := seal.NewBarrier(src)
	if _, err := b.Init(t.TempDir(), seal.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	k, err := b.NewDataKey(1)
	if err != nil {
		t.Fatal(err)
	}
	src.keys[1] = k
	return b
}

// auditedEnv serves the admin API with an audit log over a sink.
func auditedEnv(t *testing.T, failClosed bool, opts admintest.Options) (*env, *audittest.Sink, *seal.Barrier) {
	t.Helper()
	sink := &audittest.Sink{}
	b := newBarrier(t)
	opts.Audit = audit.New(audit.Config{Node: "n1", Keys: b, Sinks: []audit.Sink{sink}, FailClosed: failClosed})
	if opts.AuditKeys == nil {
		opts.AuditKeys = b
	}
	e := start(t, opts)
	return e, sink, b
}

// TestAuditAdminCalls: one line per call, refused ones included, with the
// method, the caller's name and role, its address and the code.
func TestAuditAdminCalls(t *testing.T) {
	e, sink, _ := auditedEnv(t, false, admintest.Options{})
	e.fake.SetSnapshot([]byte("snapshot"))
	ro := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "reader", "read-only")))
	op := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	if err := callStatus.run(t, ro); err != nil {
		t.Fatal(err)
	}
	_ = callSnapshot.run(t, ro)
	if err := callRestore.run(t, op); err != nil {
		t.Fatal(err)
	}
	if _, err := op.Remove(t.Context(), &adminpb.RemoveRequest{Id: "n3"}); err != nil {
		t.Fatal(err)
	}
	_, _ = op.Remove(t.Context(), &adminpb.RemoveRequest{Id: "nobody"})
	h := healthpb.NewHealthClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	if _, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	lines := audittest.Decode[adminLine](t, sink)
	type want struct{ identity, role, op, result, reason string }
	wants := []want{
		{"reader", "read-only", "kmsd.admin.v1.Admin/Status", "success", ""},
		{"reader", "read-only", "kmsd.admin.v1.Admin/Snapshot", "failure", "PermissionDenied"},
		{"alice", "operator", "kmsd.admin.v1.Admin/Restore", "success", ""},
		{"alice", "operator", "kmsd.admin.v1.Admin/Remove", "success", ""},
		{"alice", "operator", "kmsd.admin.v1.Admin/Remove", "failure", "NotFound"},
	}
	if len(lines) != len(wants) {
		t.Fatalf("%d lines, want %d (health is not recorded): %+v", len(lines), len(wants), lines)
	}
	for i, w := range wants {
		l := lines[i]
		got := want{l.Identity, l.Role, l.Operation, l.Result, l.Reason}
		if got != w {
			t.Errorf("line %d: %+v, want %+v", i, got, w)
		}
		if !strings.HasPrefix(l.Remote, "127.0.0.1:") || l.Item != nil || len(l.Request) != 32 || l.Tenant != "" {
			t.Errorf("line %d: remote %q item %v request %q tenant %q", i, l.Remote, l.Item, l.Request, l.Tenant)
		}
	}
	if !slices.Equal(lines[3].Objects, []string{"n3"}) {
		t.Errorf("Remove objects %v", lines[3].Objects)
	}
}

// TestAuditAdminNoSecrets: unseal inputs and join tokens never reach a
// line.
func TestAuditAdminNoSecrets(t *testing.T) {
	fs := &fakeSeal{sealed: true, given: map[string]bool{}}
	e, sink, _ := auditedEnv(t, false, admintest.Options{Seal: fs})
	c := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	ctx := t.Context()
	passphrase := []byte("correct horse battery staple")
	_, _ = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Passphrase{Passphrase: slices.Clone(passphrase)}})
	if _, err := c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "s1"}}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateJoinToken(ctx, &adminpb.CreateJoinTokenRequest{})
	if err != nil || tok.GetToken() != admintest.FakeJoinToken {
		t.Fatalf("CreateJoinToken: %v %v", tok, err)
	}
	joinToken := "kmsd-join-0123456789abcdef"
	if _, err := c.Join(ctx, &adminpb.JoinRequest{Address: "10.0.0.9:5697", Token: joinToken}); err != nil {
		t.Fatal(err)
	}
	out := sink.Bytes()
	if n := len(audittest.Decode[adminLine](t, sink)); n != 4 {
		t.Fatalf("%d lines, want 4", n)
	}
	for name, secret := range map[string][]byte{"passphrase": passphrase, "share": []byte(`"s1"`),
		"created token": []byte(admintest.FakeJoinToken), "join token": []byte(joinToken)} {
		for _, enc := range [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret))} {
			if bytes.Contains(out, enc) {
				t.Errorf("the audit log holds the %s", name)
			}
		}
	}
}

// TestAuditAdminFailClosed: while lines cannot be written, admin calls
// answer Unavailable and do not reach the cluster; health still answers.
func TestAuditAdminFailClosed(t *testing.T) {
	e, sink, _ := auditedEnv(t, true, admintest.Options{})
	c := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	sink.SetFail(true)
	_, err := c.Status(t.Context(), &adminpb.StatusRequest{})
	wantStatus(t, err, codes.Unavailable, "audit log unavailable")
	calls := len(e.fake.Calls())
	_, err = c.TransferLeadership(t.Context(), &adminpb.TransferLeadershipRequest{})
	wantStatus(t, err, codes.Unavailable, "audit log unavailable")
	err = callRestore.run(t, c)
	wantStatus(t, err, codes.Unavailable, "audit log unavailable")
	if len(e.fake.Calls()) != calls {
		t.Errorf("calls reached the cluster while the audit log failed: %q", e.fake.Calls()[calls:])
	}
	h := healthpb.NewHealthClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	if _, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health while the audit log fails: %v", err)
	}
	sink.SetFail(false)
	_, err = c.Status(t.Context(), &adminpb.StatusRequest{})
	wantStatus(t, err, codes.Unavailable, "audit log unavailable")
	if _, err := c.Status(t.Context(), &adminpb.StatusRequest{}); err != nil {
		t.Fatalf("Status once the log writes again: %v", err)
	}
}

// sendAudit streams files to VerifyAuditLog.
func sendAudit(t *testing.T, c adminpb.AdminClient, files map[string][]byte, order ...string) (*adminpb.VerifyAuditLogResponse, error) {
	t.Helper()
	s, err := c.VerifyAuditLog(t.Context())
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		data := files[name]
		first := true
		for len(data) > 0 || first {
			n := min(len(data), 100)
			if err := s.Send(&adminpb.AuditLogChunk{File: map[bool]string{true: name}[first], Data: data[:n]}); err != nil {
				break
			}
			data, first = data[n:], false
		}
	}
	return s.CloseAndRecv()
}

func TestVerifyAuditLogRPC(t *testing.T) {
	e, sink, b := auditedEnv(t, false, admintest.Options{MaxAuditLines: 50, MaxAuditBytes: 64 << 10})
	op := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "alice")))
	for range 6 {
		if err := callStatus.run(t, op); err != nil {
			t.Fatal(err)
		}
	}
	log := sink.Bytes()
	lines := bytes.SplitAfter(log, []byte("\n"))
	first, second := bytes.Join(lines[:3], nil), bytes.Join(lines[3:], nil)

	resp, err := sendAudit(t, op, map[string][]byte{"a.1": first, "a": second}, "a.1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetOk() || resp.GetLines() != 6 || resp.GetFirstSeq() != 1 || resp.GetLastSeq() != 6 || resp.GetMidChain() ||
		!slices.Equal(resp.GetKeyVersions(), []uint32{1}) || resp.GetStart().GetFile() != "a.1" {
		t.Fatalf("intact log: %+v", resp)
	}
	resp, err = sendAudit(t, op, map[string][]byte{"a": second}, "a")
	if err != nil || !resp.GetOk() || !resp.GetMidChain() || resp.GetFirstSeq() != 4 {
		t.Fatalf("second file alone: %+v %v", resp, err)
	}
	tampered := bytes.Replace(second, []byte(`"identity":"alice"`), []byte(`"identity":"mallo"`), 1)
	resp, err = sendAudit(t, op, map[string][]byte{"a.1": first, "a": tampered}, "a.1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.GetProblem(); resp.GetOk() || p.GetKind() != audit.KindModified || p.GetPosition().GetFile() != "a" || p.GetPosition().GetLine() != 1 || p.GetSeq() != 4 {
		t.Fatalf("tampered: %+v", resp)
	}
	resp, err = sendAudit(t, op, map[string][]byte{"a": second, "a.1": first}, "a", "a.1")
	if err != nil || resp.GetOk() || resp.GetProblem().GetPosition().GetFile() != "a.1" {
		t.Fatalf("files out of order: %+v %v", resp, err)
	}

	// Bounds: lines, files, file names.
	many := bytes.Repeat(lines[0], 51)
	_, err = sendAudit(t, op, map[string][]byte{"a": many}, "a")
	wantStatus(t, err, codes.InvalidArgument, "too many lines")
	names := make([]string, 1001)
	files := map[string][]byte{}
	for i := range names {
		names[i] = strings.Repeat("f", i+1)[:min(i+1, 4000)] + "x"
		files[names[i]] = nil
	}
	_, err = sendAudit(t, op, files, names...)
	wantStatus(t, err, codes.InvalidArgument, "files")
	_, err = sendAudit(t, op, map[string][]byte{strings.Repeat("n", 5000): first}, strings.Repeat("n", 5000))
	wantStatus(t, err, codes.InvalidArgument, "file name")
	// One endless line (no newline) is cut off by the byte bound.
	_, err = sendAudit(t, op, map[string][]byte{"a": bytes.Repeat([]byte("x"), 65<<10)}, "a")
	wantStatus(t, err, codes.InvalidArgument, "bytes")

	// Only operators verify.
	ro := adminpb.NewAdminClient(admintest.Dial(t, e.addr, e.pki.AdminTLS(t, "reader", "read-only")))
	_, err = sendAudit(t, ro, map[string][]byte{"a": first}, "a")
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
	// A sealed node cannot.
	b.Seal()
	_, err = sendAudit(t, op, map[string][]byte{"a": first}, "a")
	wantStatus(t, err, codes.Unavailable, "sealed")
}

func TestVerifyAuditLogWithoutKeys(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	_, err := sendAudit(t, c, map[string][]byte{"a": []byte("{}\n")}, "a")
	wantStatus(t, err, codes.Unimplemented, "cannot verify")
}
