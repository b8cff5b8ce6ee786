package admin

import (
	"context"
	"errors"
	"io"

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

// Restore implements adminpb.AdminServer: chunks go into a pipe that the
// cluster reads; the stream is cut off after MaxSnapshotSize bytes. The
// cluster, not this server, validates the content.
func (s *Server) Restore(stream adminpb.Admin_RestoreServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	s.logger.Info("restore requested", "caller", caller(ctx))

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.cfg.Cluster.Restore(ctx, pr)
		pr.CloseWithError(errRestoreEnded)
		done <- err
	}()

	size, recvErr := s.receiveChunks(stream, pw)
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
	err := <-done
	switch {
	case errors.Is(recvErr, errSnapshotTooLarge):
		s.logger.Warn("restore refused", "reason", "snapshot too large", "limit", s.cfg.MaxSnapshotSize)
		return s.toStatus(ctx, "Restore", recvErr)
	case err != nil:
		return s.toStatus(ctx, "Restore", err)
	case recvErr != nil && !errors.Is(recvErr, errRestoreEnded):
		return s.toStatus(ctx, "Restore", recvErr)
	}
	s.logger.Info("restore done", "bytes", size)
	return stream.SendAndClose(&adminpb.RestoreResponse{Size: size})
}

// receiveChunks copies the stream into w until the client closes it. It
// returns errSnapshotTooLarge past the limit, errRestoreEnded when the
// cluster stopped reading, or the stream's error.
func (s *Server) receiveChunks(stream adminpb.Admin_RestoreServer, w io.Writer) (int64, error) {
	var size int64
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return size, nil
		}
		if err != nil {
			return size, err
		}
		data := chunk.GetData()
		if int64(len(data)) > s.cfg.MaxSnapshotSize-size {
			return size, errSnapshotTooLarge
		}
		if _, err := w.Write(data); err != nil {
			return size, err
		}
		size += int64(len(data))
	}
}
