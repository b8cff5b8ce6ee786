package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// errRestoreEnded closes the restore pipe once the cluster stops reading, so
// that a receive loop blocked on a write wakes up.
var errRestoreEnded = errors.New("admin: restore ended")

// Snapshot implements adminpb.AdminServer: the cluster writes into a pipe
// and the stream carries it out in chunkSize pieces.
func (s *Server) Snapshot(_ *adminpb.SnapshotRequest, stream adminpb.Admin_SnapshotServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	s.logger.Info("snapshot requested", "caller", caller(ctx))

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.cfg.Cluster.Snapshot(ctx, pw)
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()

	size, sendErr := sendChunks(stream, pr)
	if sendErr != nil {
		// The client is gone: stop the producer.
		pr.CloseWithError(sendErr)
		cancel()
	}
	err := <-done
	if sendErr != nil && err == nil {
		err = sendErr
	}
	if err != nil {
		return s.toStatus(ctx, "Snapshot", err)
	}
	s.logger.Info("snapshot sent", "bytes", size)
	return nil
}

// sendChunks copies r to the stream. A read error is the producer's and is
// left for the caller to take from the producer itself; only a send error
// is returned.
func sendChunks(stream adminpb.Admin_SnapshotServer, r io.Reader) (int64, error) {
	buf := make([]byte, chunkSize)
	var size int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			// Send marshals before it returns, so buf can be reused.
			if serr := stream.Send(&adminpb.SnapshotChunk{Data: buf[:n]}); serr != nil {
				return size, serr
			}
			size += int64(n)
		}
		if err != nil {
			return size, nil
		}
	}
}

// chunkStream is the receiving side of Restore and InspectSnapshot.
type chunkStream interface {
	Recv() (*adminpb.RestoreChunk, error)
	Context() context.Context
}

// received is what pipeSnapshot saw of a snapshot file.
type received struct {
	size  int64
	force bool
	// head is the file's first bytes, enough for its header.
	head []byte
}

// Restore implements adminpb.AdminServer. The cluster checks the file and
// refuses it unless it is of this cluster, intact, and not older than the
// cluster's state; force, read from the first chunk, allows the last. The
// outcome is logged at warning level with the caller and the file's header,
// never its contents.
func (s *Server) Restore(stream adminpb.Admin_RestoreServer) error {
	ctx := stream.Context()
	s.logger.Info("restore requested", "caller", caller(ctx))
	rc, err := s.pipeSnapshot(stream, func(ctx context.Context, r io.Reader, force bool) error {
		return s.cfg.Cluster.Restore(ctx, r, force)
	})
	attrs := []any{"caller", caller(ctx), "bytes", rc.size, "force", rc.force}
	if h, herr := cluster.ReadSnapshotHeader(bytes.NewReader(rc.head)); herr == nil {
		attrs = append(attrs, "cluster_id", h.ClusterID, "index", h.Index, "term", h.Term)
	}
	if err != nil {
		st := s.toStatus(ctx, "Restore", err)
		s.logger.Warn("snapshot restore refused", append(attrs, "reason", status.Convert(st).Message())...)
		return st
	}
	s.logger.Warn("cluster state restored from a snapshot", attrs...)
	return stream.SendAndClose(&adminpb.RestoreResponse{Size: rc.size})
}

// InspectSnapshot implements adminpb.AdminServer: the cluster reads the
// file and says what Restore would do with it; nothing changes.
func (s *Server) InspectSnapshot(stream adminpb.Admin_InspectSnapshotServer) error {
	ctx := stream.Context()
	var info cluster.SnapshotInfo
	rc, err := s.pipeSnapshot(stream, func(ctx context.Context, r io.Reader, _ bool) error {
		var err error
		info, err = s.cfg.Cluster.InspectSnapshot(ctx, r)
		return err
	})
	if err != nil {
		return s.toStatus(ctx, "InspectSnapshot", err)
	}
	s.logger.Info("snapshot inspected", "caller", caller(ctx), "bytes", rc.size, "cluster_id", info.ClusterID,
		"index", info.Index, "mac_valid", info.MACValid, "accepted", info.Refusal == "")
	return stream.SendAndClose(&adminpb.InspectSnapshotResponse{
		Format: info.Format, ClusterId: info.ClusterID, Index: info.Index, Term: info.Term,
		KeyVersions: info.KeyVersions, CreatedUnixNano: createdNanos(info.Created), Size: rc.size,
		MacValid: info.MACValid, SameCluster: info.SameCluster, CurrentIndex: info.CurrentIndex, Refusal: info.Refusal,
	})
}

func createdNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// pipeSnapshot hands the client's snapshot file to consume through a pipe;
// consume starts with the first chunk's force flag. The stream is cut off
// after MaxSnapshotSize bytes. The cluster, not this server, validates the
// content. The error is consume's, or errSnapshotTooLarge, or the stream's.
func (s *Server) pipeSnapshot(stream chunkStream, consume func(context.Context, io.Reader, bool) error) (received, error) {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var rc received
	first, err := stream.Recv()
	if err != nil && err != io.EOF {
		return rc, err
	}
	rc.force = first.GetForce()

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := consume(ctx, pr, rc.force)
		pr.CloseWithError(errRestoreEnded)
		done <- err
	}()

	var recvErr error
	if first != nil {
		recvErr = s.receiveChunks(stream, pw, first, &rc)
	}
	if recvErr != nil {
		// The cluster must see a failed read, never a clean EOF, so that a
		// truncated or oversized snapshot is not applied.
		pw.CloseWithError(recvErr)
		if !errors.Is(recvErr, errRestoreEnded) {
			cancel()
		}
	} else {
		pw.Close()
	}
	err = <-done
	switch {
	case errors.Is(recvErr, errSnapshotTooLarge):
		s.logger.Warn("snapshot refused", "reason", "snapshot too large", "limit", s.cfg.MaxSnapshotSize)
		return rc, recvErr
	case err != nil:
		return rc, err
	case recvErr != nil && !errors.Is(recvErr, errRestoreEnded):
		return rc, recvErr
	}
	return rc, nil
}

// receiveChunks copies first and then the stream into w until the client
// closes it, keeping the file's head in rc. It returns errSnapshotTooLarge
// past the limit, errRestoreEnded when the cluster stopped reading, or the
// stream's error.
func (s *Server) receiveChunks(stream chunkStream, w io.Writer, first *adminpb.RestoreChunk, rc *received) error {
	for chunk := first; ; {
		data := chunk.GetData()
		if int64(len(data)) > s.cfg.MaxSnapshotSize-rc.size {
			return errSnapshotTooLarge
		}
		if room := cluster.MaxSnapshotHeaderSize - len(rc.head); room > 0 {
			rc.head = append(rc.head, data[:min(room, len(data))]...)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		rc.size += int64(len(data))
		var err error
		if chunk, err = stream.Recv(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
