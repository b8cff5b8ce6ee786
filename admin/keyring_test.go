package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// The real node must keep satisfying what the keyring RPCs need.
var _ admin.KeyringControl = (*cluster.Node)(nil)

const operator = "client-" + admin.AdminOrganization

type keyringEnv struct {
	kr   *admintest.FakeKeyring
	logs *syncBuffer
	c    adminpb.AdminClient
}

func startKeyring(t *testing.T, objects int) *keyringEnv {
	t.Helper()
	pki := admintest.NewPKI(t)
	e := &keyringEnv{kr: admintest.NewFakeKeyring(objects), logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	addr := admintest.ServeKeyring(t, admintest.NewFakeCluster(), e.kr, pki.ServerTLS(t),
		admintest.Options{AdminCAs: pki.AdminCAs(), NodeCAs: pki.NodeCAs(), Logger: logger})
	e.c = adminpb.NewAdminClient(admintest.Dial(t, addr, pki.ClientTLS(t, admin.AdminOrganization)))
	return e
}

func (e *keyringEnv) versions(t *testing.T) []*adminpb.KeyVersion {
	t.Helper()
	resp, err := e.c.Keyring(t.Context(), &adminpb.KeyringRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetVersions()
}

// rewrap runs a Rewrap to its end and returns every message.
func (e *keyringEnv) rewrap(t *testing.T, batch int32) ([]*adminpb.RewrapProgress, error) {
	t.Helper()
	stream, err := e.c.Rewrap(t.Context(), &adminpb.RewrapRequest{Batch: batch})
	if err != nil {
		return nil, err
	}
	var out []*adminpb.RewrapProgress
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
}

func TestKeyringRPCs(t *testing.T) {
	e := startKeyring(t, 12)
	ctx := t.Context()
	created := admintest.FakeKeyringCreated.UnixNano()
	if got := e.versions(t); len(got) != 1 || !proto.Equal(got[0], &adminpb.KeyVersion{Version: 1, CreatedUnixNano: created, Objects: 12, Latest: true}) {
		t.Fatalf("Keyring = %v", got)
	}
	resp, err := e.c.RotateKey(ctx, &adminpb.RotateKeyRequest{})
	if err != nil || resp.GetVersion() != 2 {
		t.Fatalf("RotateKey = %v, %v", resp, err)
	}
	msgs, err := e.rewrap(t, 5)
	if err != nil {
		t.Fatal(err)
	}
	var rewrapped []int64
	for _, m := range msgs {
		rewrapped = append(rewrapped, m.GetRewrapped())
	}
	last := msgs[len(msgs)-1]
	if !slices.Equal(rewrapped, []int64{5, 10, 12, 12}) || !last.GetDone() || last.GetTotal() != 12 || last.GetVersion() != 2 {
		t.Errorf("rewrap messages %v", msgs)
	}
	if got := e.versions(t); len(got) != 2 || got[0].GetObjects() != 0 || got[1].GetObjects() != 12 || !got[1].GetLatest() {
		t.Errorf("Keyring after the rewrap = %v", got)
	}
	if _, err := e.c.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: 1}); err != nil {
		t.Fatal(err)
	}
	if got := e.versions(t); len(got) != 1 || got[0].GetVersion() != 2 {
		t.Errorf("Keyring after the retire = %v", got)
	}
	want := []string{"Keyring", "RotateKey " + operator, "Rewrap 5", "Keyring", "RetireKey 1 " + operator, "Keyring"}
	if got := e.kr.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	logs := e.logs.String()
	for _, w := range []string{"data key rotated", "caller=" + operator, "rewrap finished", "data key retired and root key replaced"} {
		if !strings.Contains(logs, w) {
			t.Errorf("log has no %q:\n%s", w, logs)
		}
	}
}

func TestKeyringErrors(t *testing.T) {
	e := startKeyring(t, 3)
	ctx := t.Context()
	if _, err := e.c.RotateKey(ctx, &adminpb.RotateKeyRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: 1})
	wantStatus(t, err, codes.FailedPrecondition, "still seals 3 objects; run `kmsctl operator rewrap` first")
	if info := errorInfo(err); info == nil || info.GetReason() != adminpb.ErrorReason_ERROR_REASON_KEY_IN_USE.String() || info.GetDomain() != admin.ErrorDomain {
		t.Errorf("ErrorInfo %v, want KEY_IN_USE", info)
	}
	_, err = e.c.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: 2})
	wantStatus(t, err, codes.FailedPrecondition, "newest")
	_, err = e.c.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: 9})
	wantStatus(t, err, codes.NotFound, "version 9 is not in the keyring")
	_, err = e.c.RetireKey(ctx, &adminpb.RetireKeyRequest{})
	wantStatus(t, err, codes.InvalidArgument, "version is required")
	for _, b := range []int32{-1, cluster.MaxRewrapBatch + 1} {
		_, err := e.rewrap(t, b)
		wantStatus(t, err, codes.InvalidArgument, "batch")
	}

	e.kr.SetError("RotateKey", fmt.Errorf("%w: %w", cluster.ErrKeyringChanged, errors.New("fsm: object changed since; cannot undo")))
	_, err = e.c.RotateKey(ctx, &adminpb.RotateKeyRequest{})
	wantStatus(t, err, codes.Aborted, "the keyring changed while the command was in flight")
	e.kr.SetError("Keyring", errors.New("bolt: page 7 corrupt at /var/lib/kmsd"))
	_, err = e.c.Keyring(ctx, &adminpb.KeyringRequest{})
	wantStatus(t, err, codes.Internal, "internal error")
	e.kr.SetError("Rewrap", fmt.Errorf("%w: %w", cluster.ErrRootBehind, seal.ErrRootMismatch))
	_, err = e.rewrap(t, 0)
	wantStatus(t, err, codes.FailedPrecondition, "must rejoin")
}

// TestRewrapClientGoesAway: a client that stops listening cancels the
// rewrap on the node.
func TestRewrapClientGoesAway(t *testing.T) {
	e := startKeyring(t, 10)
	if _, err := e.c.RotateKey(t.Context(), &adminpb.RotateKeyRequest{}); err != nil {
		t.Fatal(err)
	}
	next := e.kr.Stall()
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := e.c.Rewrap(ctx, &adminpb.RewrapRequest{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	next <- struct{}{}
	if p, err := stream.Recv(); err != nil || p.GetRewrapped() != 4 {
		t.Fatalf("first batch: %v %v", p, err)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.logs.String(), "rewrap stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("the rewrap did not stop:\n%s", e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.versions(t); got[0].GetObjects() != 6 {
		t.Errorf("after the cancel %d objects still on version 1, want 6", got[0].GetObjects())
	}
}

func TestKeyringUnconfigured(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	ctx := t.Context()
	_, err := c.RotateKey(ctx, &adminpb.RotateKeyRequest{})
	wantStatus(t, err, codes.Unimplemented, "this node has no keyring")
	_, err = c.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: 1})
	wantStatus(t, err, codes.Unimplemented, "this node has no keyring")
	_, err = c.Keyring(ctx, &adminpb.KeyringRequest{})
	wantStatus(t, err, codes.Unimplemented, "this node has no keyring")
	stream, err := c.Rewrap(ctx, &adminpb.RewrapRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.Unimplemented, "this node has no keyring")

	// Only operators reach the keyring.
	_, err = e.client(t, "").RotateKey(ctx, &adminpb.RotateKeyRequest{})
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
}
