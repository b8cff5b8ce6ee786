package admin_test

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/grpc/codes"

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
	s, err := c.Restore(t.Context())
	if err != nil {
		return nil, err
	}
	for len(data) > 0 {
		n := min(piece, len(data))
		if err := s.Send(&adminpb.RestoreChunk{Data: data[:n]}); err != nil {
			break // the server ended the call; CloseAndRecv has its status
		}
		data = data[n:]
	}
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
