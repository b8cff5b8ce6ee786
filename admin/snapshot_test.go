package admin_test

import (
	"bytes"
	"encoding/binary"
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
	"github.com/kmsd/kmsd/proto/adminpb"
)

// readSnapshot collects a Snapshot stream and checks the chunk size.
func readSnapshot(t *testing.T, c adminpb.AdminClient) ([]byte, error) {
	t.Helper()
	s, err := c.Snapshot(t.Context(), &adminpb.SnapshotRequest{})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		chunk, err := s.Recv()
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return buf.Bytes(), err
		}
		if n := len(chunk.GetData()); n == 0 || n > 64<<10 {
			t.Fatalf("chunk of %d bytes", n)
		}
		buf.Write(chunk.GetData())
	}
}

// restore sends data in pieces of size piece.
func restore(t *testing.T, c adminpb.AdminClient, data []byte, piece int) (*adminpb.RestoreResponse, error) {
	t.Helper()
	return restoreForce(t, c, data, piece, nil)
}

// restoreForce is restore with force[i] set on chunk i.
func restoreForce(t *testing.T, c adminpb.AdminClient, data []byte, piece int, force []bool) (*adminpb.RestoreResponse, error) {
	t.Helper()
	s, err := c.Restore(t.Context())
	if err != nil {
		return nil, err
	}
	sendFile(s, data, piece, force)
	return s.CloseAndRecv()
}

func sendFile(s interface {
	Send(*adminpb.RestoreChunk) error
}, data []byte, piece int, force []bool) {
	for i := 0; len(data) > 0; i++ {
		n := min(piece, len(data))
		if err := s.Send(&adminpb.RestoreChunk{Data: data[:n], Force: i < len(force) && force[i]}); err != nil {
			return // the server ended the call; CloseAndRecv has its status
		}
		data = data[n:]
	}
}

func inspect(t *testing.T, c adminpb.AdminClient, data []byte, piece int) (*adminpb.InspectSnapshotResponse, error) {
	t.Helper()
	s, err := c.InspectSnapshot(t.Context())
	if err != nil {
		return nil, err
	}
	sendFile(s, data, piece, nil)
	return s.CloseAndRecv()
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	want := randomBytes(t, 3<<20+12345)
	e.fake.SetSnapshot(want)

	got, err := readSnapshot(t, c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("snapshot: got %d bytes, want %d (or content differs)", len(got), len(want))
	}
	resp, err := restore(t, c, got, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSize() != int64(len(want)) {
		t.Errorf("restore size = %d, want %d", resp.GetSize(), len(want))
	}
	if !bytes.Equal(e.fake.Restored(), want) {
		t.Error("restored bytes differ from the snapshot")
	}
}

func TestEmptySnapshot(t *testing.T) {
	e := start(t, admintest.Options{})
	got, err := readSnapshot(t, e.client(t, admin.AdminOrganization))
	if err != nil || len(got) != 0 {
		t.Fatalf("got %d bytes, err %v", len(got), err)
	}
}

func TestSnapshotFailsMidway(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetSnapshot(randomBytes(t, 1<<20))
	e.fake.SetError("Snapshot", cluster.ErrNoLeader)
	_, err := readSnapshot(t, e.client(t, admin.AdminOrganization))
	wantStatus(t, err, codes.Unavailable, "no leader")
}

func TestRestoreTooLarge(t *testing.T) {
	const limit = 100 << 10
	e := start(t, admintest.Options{MaxSnapshotSize: limit})
	c := e.client(t, admin.AdminOrganization)

	// Exactly at the limit is fine.
	if _, err := restore(t, c, randomBytes(t, limit), 30_000); err != nil {
		t.Fatalf("restore at the limit: %v", err)
	}
	_, err := restore(t, c, randomBytes(t, limit+1), 30_000)
	wantStatus(t, err, codes.InvalidArgument, "snapshot larger than 102400 bytes")
	if info := errorInfo(err); info.GetReason() != adminpb.ErrorReason_ERROR_REASON_SNAPSHOT_TOO_LARGE.String() {
		t.Errorf("reason = %v", info)
	}
	if got := len(e.fake.Restored()); got != limit {
		t.Errorf("an oversized snapshot was applied (%d bytes restored)", got)
	}
}

func TestRestoreNotLeader(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetStatus(cluster.Status{LeaderID: "n2", LeaderAdminAddr: "10.0.0.2:5697"})
	e.fake.SetError("Restore", cluster.ErrNotLeader)
	_, err := restore(t, e.client(t, admin.AdminOrganization), randomBytes(t, 1<<20), 64<<10)
	wantStatus(t, err, codes.FailedPrecondition, "not the leader; leader is n2 at 10.0.0.2:5697")
}

func TestRestoreRejected(t *testing.T) {
	e := start(t, admintest.Options{})
	e.fake.SetError("Restore", cluster.ErrBadSnapshot)
	_, err := restore(t, e.client(t, admin.AdminOrganization), []byte("not a snapshot"), 64<<10)
	wantStatus(t, err, codes.InvalidArgument, "snapshot rejected")
}

// TestRestoreForceFromFirstChunk: force is read from the first chunk only.
func TestRestoreForceFromFirstChunk(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	data := randomBytes(t, 200<<10)
	for _, tt := range []struct {
		force []bool
		want  string
	}{
		{nil, "Restore"},
		{[]bool{true}, "Restore force"},
		{[]bool{false, true, true, true}, "Restore"},
	} {
		if _, err := restoreForce(t, c, data, 64<<10, tt.force); err != nil {
			t.Fatal(err)
		}
		if calls := e.fake.Calls(); calls[len(calls)-1] != tt.want {
			t.Errorf("force per chunk %v: call %q, want %q", tt.force, calls[len(calls)-1], tt.want)
		}
	}
}

// TestSnapshotRefusals: each refusal has its reason and the cluster's
// operator text; a bare sentinel gets its own text, never what was wrapped
// around it.
func TestSnapshotRefusals(t *testing.T) {
	const internal = "raft: bolt page 0xdeadbeef"
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		msg    string
		reason adminpb.ErrorReason
	}{
		{"foreign", &cluster.SnapshotRefusal{Err: cluster.ErrForeignSnapshot, Text: "the snapshot belongs to cluster aaa, and this is cluster bbb"},
			codes.InvalidArgument, "the snapshot belongs to cluster aaa, and this is cluster bbb", adminpb.ErrorReason_ERROR_REASON_FOREIGN_SNAPSHOT},
		{"tampered", &cluster.SnapshotRefusal{Err: cluster.ErrTamperedSnapshot, Text: "its MAC does not verify; use an intact copy"},
			codes.InvalidArgument, "its MAC does not verify; use an intact copy", adminpb.ErrorReason_ERROR_REASON_TAMPERED_SNAPSHOT},
		{"old", &cluster.SnapshotRefusal{Err: cluster.ErrOldSnapshot, Text: "older than the cluster's state. Set force to roll back anyway"},
			codes.FailedPrecondition, "older than the cluster's state. Set force to roll back anyway", adminpb.ErrorReason_ERROR_REASON_OLD_SNAPSHOT},
		{"bad", &cluster.SnapshotRefusal{Err: cluster.ErrBadSnapshot, Text: "snapshot rejected: not a kmsd snapshot file"},
			codes.InvalidArgument, "snapshot rejected: not a kmsd snapshot file", adminpb.ErrorReason_ERROR_REASON_BAD_SNAPSHOT},
		{"bare foreign", fmt.Errorf("%w: %s", cluster.ErrForeignSnapshot, internal),
			codes.InvalidArgument, "the snapshot belongs to another cluster", adminpb.ErrorReason_ERROR_REASON_FOREIGN_SNAPSHOT},
		{"bare tampered", fmt.Errorf("%w: %s", cluster.ErrTamperedSnapshot, internal),
			codes.InvalidArgument, "MAC does not verify", adminpb.ErrorReason_ERROR_REASON_TAMPERED_SNAPSHOT},
		{"bare old", fmt.Errorf("%w: %s", cluster.ErrOldSnapshot, internal),
			codes.FailedPrecondition, "set force to roll back anyway", adminpb.ErrorReason_ERROR_REASON_OLD_SNAPSHOT},
		{"bare bad", fmt.Errorf("%w: %s", cluster.ErrBadSnapshot, internal),
			codes.InvalidArgument, "snapshot rejected", adminpb.ErrorReason_ERROR_REASON_BAD_SNAPSHOT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, admintest.Options{})
			c := e.client(t, admin.AdminOrganization)
			e.fake.SetError("Restore", tt.err)
			e.fake.SetError("InspectSnapshot", tt.err)
			_, rerr := restore(t, c, []byte("a snapshot file"), 64<<10)
			_, ierr := inspect(t, c, []byte("a snapshot file"), 64<<10)
			for _, err := range []error{rerr, ierr} {
				wantStatus(t, err, tt.code, tt.msg)
				if info := errorInfo(err); info.GetReason() != tt.reason.String() || info.GetDomain() != admin.ErrorDomain {
					t.Errorf("detail = %v, want reason %v", info, tt.reason)
				}
				if strings.Contains(err.Error(), "deadbeef") || strings.Contains(err.Error(), "cluster: ") {
					t.Errorf("internal text reached the client: %v", err)
				}
			}
		})
	}
}

// snapshotFile is a snapshot file's header (format 1: cluster/DESIGN.md)
// followed by body and a trailer the fake does not check.
func snapshotFile(clusterID string, index uint64, body []byte) []byte {
	fields := append([]byte{byte(len(clusterID))}, clusterID...)
	fields = binary.BigEndian.AppendUint64(fields, index)
	fields = binary.BigEndian.AppendUint64(fields, 3)                   // term
	fields = binary.BigEndian.AppendUint64(fields, 1700000000000000000) // created
	fields = binary.BigEndian.AppendUint32(fields, 1)
	fields = binary.BigEndian.AppendUint32(fields, 1) // key version 1
	b := append([]byte("KMSDSNPF"), 0, 0, 0, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(fields)))
	b = append(append(b, fields...), body...)
	return append(b, make([]byte, 40)...)
}

// TestRestoreAudit: a restore and a refused one are logged at warning
// level with the caller, the file's cluster id, index, size and force, and
// nothing of its contents.
func TestRestoreAudit(t *testing.T) {
	var logs syncBuffer
	e := start(t, admintest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := e.client(t, admin.AdminOrganization)
	file := snapshotFile("c0ffee", 1234, []byte("SECRET-CONTENTS"))

	if _, err := restoreForce(t, c, file, 10, []bool{true}); err != nil {
		t.Fatal(err)
	}
	// The fake refuses without reading: the header must come in the first
	// chunk.
	e.fake.SetError("Restore", &cluster.SnapshotRefusal{Err: cluster.ErrTamperedSnapshot, Text: "its MAC does not verify"})
	if _, err := restore(t, c, file, 64<<10); err == nil {
		t.Fatal("refusal not passed on")
	}
	var restored, refused string
	for _, l := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(l, "cluster state restored from a snapshot"):
			restored = l
		case strings.Contains(l, "snapshot restore refused"):
			refused = l
		}
	}
	size := fmt.Sprintf("bytes=%d", len(file))
	for _, want := range []string{"level=WARN", "caller=client-kmsd-admins", "cluster_id=c0ffee", "index=1234", "term=3", size, "force=true"} {
		if !strings.Contains(restored, want) {
			t.Errorf("restore log %q lacks %q", restored, want)
		}
	}
	for _, want := range []string{"level=WARN", "caller=client-kmsd-admins", "cluster_id=c0ffee", "index=1234", "force=false", "MAC does not verify"} {
		if !strings.Contains(refused, want) {
			t.Errorf("refusal log %q lacks %q", refused, want)
		}
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("snapshot contents were logged:\n%s", logs.String())
	}
}

func TestInspectSnapshot(t *testing.T) {
	e := start(t, admintest.Options{})
	c := e.client(t, admin.AdminOrganization)
	created := time.Unix(1700000000, 5).UTC()
	e.fake.SetInspect(cluster.SnapshotInfo{
		SnapshotHeader: cluster.SnapshotHeader{Format: 1, ClusterID: "c0ffee", Index: 40, Term: 3, KeyVersions: []uint32{1, 2}, Created: created},
		MACValid:       true, SameCluster: true, CurrentIndex: 50, Refusal: "older",
	})
	data := randomBytes(t, 300<<10)
	resp, err := inspect(t, c, data, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	want := &adminpb.InspectSnapshotResponse{
		Format: 1, ClusterId: "c0ffee", Index: 40, Term: 3, KeyVersions: []uint32{1, 2}, CreatedUnixNano: created.UnixNano(),
		Size: int64(len(data)), MacValid: true, SameCluster: true, CurrentIndex: 50, Refusal: "older",
	}
	if !proto.Equal(resp, want) {
		t.Errorf("InspectSnapshot = %v, want %v", resp, want)
	}
	if calls := e.fake.Calls(); !slices.Equal(calls, []string{"InspectSnapshot"}) {
		t.Errorf("calls = %q", calls)
	}
	if e.fake.Restored() != nil {
		t.Error("inspecting restored the snapshot")
	}

	other := e.client(t, "dev")
	_, err = inspect(t, other, data, 64<<10)
	wantStatus(t, err, codes.PermissionDenied, "not authorised")
	if calls := e.fake.Calls(); len(calls) != 1 {
		t.Errorf("a caller without the admin organization reached the cluster: %q", calls)
	}
}

func TestInspectSnapshotTooLarge(t *testing.T) {
	e := start(t, admintest.Options{MaxSnapshotSize: 100 << 10})
	_, err := inspect(t, e.client(t, admin.AdminOrganization), randomBytes(t, 100<<10+1), 30_000)
	wantStatus(t, err, codes.InvalidArgument, "snapshot larger than 102400 bytes")
}
