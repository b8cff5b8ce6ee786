package admin

import (
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// AuditKeys checks audit lines; *seal.Barrier satisfies it.
type AuditKeys interface {
	audit.MACer
	Sealed() bool
}

// Bounds of one VerifyAuditLog call.
const (
	maxAuditFiles    = 1000
	maxAuditFileName = 4096
	// DefaultMaxAuditLines and DefaultMaxAuditBytes bound the lines and
	// bytes one VerifyAuditLog call checks unless Config says otherwise.
	DefaultMaxAuditLines       = audit.DefaultMaxLines
	DefaultMaxAuditBytes int64 = 64 << 30
)

// VerifyAuditLog implements adminpb.AdminServer: the lines are checked here,
// under the barrier's audit keys, and only the report goes back.
func (s *Server) VerifyAuditLog(stream adminpb.Admin_VerifyAuditLogServer) error {
	ctx := stream.Context()
	keys := s.cfg.AuditKeys
	if keys == nil {
		return status.Error(codes.Unimplemented, "this node cannot verify audit logs")
	}
	if keys.Sealed() {
		return s.toStatus(ctx, "VerifyAuditLog", seal.ErrSealed)
	}
	v := audit.NewStream(keys, s.cfg.MaxAuditLines)
	files, size := 0, int64(0)
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s.toStatus(ctx, "VerifyAuditLog", err)
		}
		if name := chunk.GetFile(); name != "" || files == 0 {
			files++
			switch {
			case files > maxAuditFiles:
				return status.Errorf(codes.InvalidArgument, "more than %d files in one verification", maxAuditFiles)
			case len(name) > maxAuditFileName:
				return status.Errorf(codes.InvalidArgument, "file name longer than %d bytes", maxAuditFileName)
			}
			if err := v.StartFile(name); err != nil {
				return tooManyLines(err)
			}
		}
		if size += int64(len(chunk.GetData())); size > s.cfg.MaxAuditBytes {
			return status.Errorf(codes.InvalidArgument, "more than %d bytes in one verification; verify fewer files at a time", s.cfg.MaxAuditBytes)
		}
		if err := v.Write(chunk.GetData()); err != nil {
			return tooManyLines(err)
		}
	}
	rep, err := v.Finish()
	if err != nil {
		return tooManyLines(err)
	}
	if keys.Sealed() {
		// Sealed meanwhile: keyed lines could not be checked.
		return s.toStatus(ctx, "VerifyAuditLog", seal.ErrSealed)
	}
	s.logger.Info("audit log verified", "caller", caller(ctx), "lines", rep.Lines, "ok", rep.Problem == nil)
	return stream.SendAndClose(ReportToProto(rep))
}

func tooManyLines(err error) error {
	if errors.Is(err, audit.ErrTooManyLines) {
		return status.Error(codes.InvalidArgument, "too many lines to verify in one call; verify fewer files at a time")
	}
	return status.Error(codes.Internal, "internal error")
}

// ReportToProto converts an audit.Report for the wire.
func ReportToProto(r audit.Report) *adminpb.VerifyAuditLogResponse {
	pos := func(p audit.Position) *adminpb.AuditLogPosition {
		return &adminpb.AuditLogPosition{File: p.File, Line: p.Line}
	}
	out := &adminpb.VerifyAuditLogResponse{
		Ok: r.Problem == nil, Lines: r.Lines, FirstSeq: r.FirstSeq, MidChain: r.MidChain, LastSeq: r.LastSeq,
		KeyVersions: r.KeyVersions, Unkeyed: r.Unkeyed, UnkeyedTail: r.UnkeyedTail,
	}
	if r.FirstSeq > 0 {
		out.Start = pos(r.Start)
	}
	if p := r.Problem; p != nil {
		out.Problem = &adminpb.AuditLogProblem{Position: pos(p.Position), Seq: p.Seq, Kind: p.Kind, Detail: p.Detail}
	}
	return out
}
