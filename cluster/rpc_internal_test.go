package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestStatusCodes walks statusCodes: every sentinel crosses to the calling
// node as the sentinel its caller acts on (retry on another leader, give
// up on a refused join), and no internal text crosses.
func TestStatusCodes(t *testing.T) {
	arrives := map[codes.Code]error{
		codes.FailedPrecondition: ErrNotLeader,
		codes.Unavailable:        ErrUnreachable,
		codes.DeadlineExceeded:   ErrTimeout,
		codes.Canceled:           ErrTimeout,
		codes.ResourceExhausted:  ErrTooLarge,
		codes.NotFound:           ErrUnknownMember,
		codes.PermissionDenied:   ErrJoinRefused,
	}
	for _, row := range statusCodes {
		want, ok := arrives[row.code]
		if !ok {
			t.Fatalf("code %v is not expected", row.code)
		}
		if got := mapRPCErr(status.Error(row.code, "peer says")); !errors.Is(got, want) {
			t.Errorf("%v decodes as %v, want %v", row.code, got, want)
		}
		for _, sentinel := range row.errs {
			st, _ := status.FromError(toStatus(fmt.Errorf("%w: detail", sentinel)))
			if st.Code() != row.code {
				t.Errorf("%v answers %v, want %v", sentinel, st.Code(), row.code)
			}
			if row.text != "" && st.Message() != row.text {
				t.Errorf("%v answers %q, want %q", sentinel, st.Message(), row.text)
			}
		}
	}
	for code := range arrives {
		if got := mapRPCErr(status.Error(code, "x")); got == nil {
			t.Errorf("%v decodes as nil", code)
		}
	}
	if st, _ := status.FromError(toStatus(errors.New("open /var/lib/kmsd: permission denied"))); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("an internal error answers %v %q", st.Code(), st.Message())
	}
	if got := mapRPCErr(status.Error(codes.Internal, "internal error")); errors.Is(got, ErrNotLeader) || errors.Is(got, ErrUnreachable) || got == nil {
		t.Errorf("Internal decodes as %v", got)
	}
	if got := mapRPCErr(errors.New("connection reset")); !errors.Is(got, ErrUnreachable) {
		t.Errorf("a transport error decodes as %v", got)
	}
	if st, _ := status.FromError(toStatus(context.DeadlineExceeded)); st.Code() != codes.DeadlineExceeded {
		t.Errorf("a deadline answers %v", st.Code())
	}
	refused := mapRPCErr(toStatus(fmt.Errorf("%w: token expired", ErrJoinRefused)))
	if !errors.Is(refused, ErrJoinRefused) || refused.Error() != "cluster: join refused: token expired" {
		t.Errorf("a refused join arrives as %q", refused)
	}
}
