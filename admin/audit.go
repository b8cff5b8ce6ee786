package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// Auditor records one line per admin call; *audit.Log satisfies it.
type Auditor interface {
	// Ready is asked before a call runs; an error refuses it.
	Ready() error
	// Record writes the call's line; an error means the line was not
	// written and the node fails closed.
	Record(audit.Record) error
}

// errAuditUnavailable answers a call when the audit log cannot be written
// and the node fails closed.
var errAuditUnavailable = status.Error(codes.Unavailable, "audit log unavailable")

// AuditOptions returns the grpc.ServerOptions that install
// AuditInterceptors(a). Give them before ServerOptions, so that calls the
// role checks refuse are recorded too.
func AuditOptions(a Auditor) []grpc.ServerOption {
	u, s := AuditInterceptors(a)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(u), grpc.ChainStreamInterceptor(s)}
}

// AuditInterceptors return a unary and a stream interceptor that write one
// line per admin API call: the method, the caller's certificate name and
// role, its address, and the gRPC code. Other services (node-to-node,
// health) are not recorded. When a fails closed, a call is refused with
// Unavailable before it runs while lines cannot be written, and a call
// whose line cannot be written answers Unavailable instead of its result
// (a stream has sent its messages by then).
func AuditInterceptors(a Auditor) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, AdminServicePrefix) {
			return h(ctx, req)
		}
		rec := callRecord(ctx, info.FullMethod, req)
		if a.Ready() != nil {
			recordCall(a, rec, errAuditUnavailable)
			return nil, errAuditUnavailable
		}
		resp, err := h(ctx, req)
		if recordCall(a, rec, err) != nil {
			return nil, errAuditUnavailable
		}
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !strings.HasPrefix(info.FullMethod, AdminServicePrefix) {
			return h(srv, ss)
		}
		rec := callRecord(ss.Context(), info.FullMethod, nil)
		if a.Ready() != nil {
			recordCall(a, rec, errAuditUnavailable)
			return errAuditUnavailable
		}
		err := h(srv, ss)
		if recordCall(a, rec, err) != nil {
			return errAuditUnavailable
		}
		return err
	}
	return unary, stream
}

// callRecord starts the line of a call: who, from where, what.
func callRecord(ctx context.Context, method string, req any) audit.Record {
	rec := audit.Record{
		Identity:  caller(ctx),
		Role:      string(RoleOf(peerCert(ctx))),
		Operation: strings.TrimPrefix(method, "/"),
		Objects:   callObjects(req),
		RequestID: requestID(),
		Item:      -1,
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		rec.Remote = p.Addr.String()
	}
	return rec
}

// recordCall completes rec with the call's outcome and writes it.
func recordCall(a Auditor, rec audit.Record, err error) error {
	code := status.Code(err)
	rec.Success = code == codes.OK
	if !rec.Success {
		rec.Reason = code.String()
	}
	return a.Record(rec)
}

// callObjects names what a request acts on: a member id, a data key
// version. Nothing secret is ever taken from a request.
func callObjects(req any) []string {
	switch r := req.(type) {
	case *adminpb.RemoveRequest:
		return nonEmpty(r.GetId())
	case *adminpb.TransferLeadershipRequest:
		return nonEmpty(r.GetId())
	case *adminpb.RetireKeyRequest:
		return []string{"data-key-version:" + strconv.FormatUint(uint64(r.GetVersion()), 10)}
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// requestID returns a random 128-bit id in hex.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
