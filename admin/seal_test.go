package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/adminpb"
)

// fakeSeal is a Shamir node that needs two shares: "s1" and "s2".
type fakeSeal struct {
	mu     sync.Mutex
	given  map[string]bool
	sealed bool
	inputs []string
}

func (f *fakeSeal) SealState() admin.SealState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return admin.SealState{Sealed: f.sealed, Method: "shamir", ClusterID: "c1", Threshold: 2, Shares: 3, Progress: len(f.given)}
}

func (f *fakeSeal) Unseal(_ context.Context, in admin.UnsealInput) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in.Share+string(in.Passphrase))
	switch {
	case in.Reset:
		f.given = map[string]bool{}
		return 2, nil
	case len(in.Passphrase) > 0:
		return 0, fmt.Errorf("%w: shamir", seal.ErrWrongMethod)
	case in.Share != "s1" && in.Share != "s2":
		return 0, seal.ErrBadShare
	case f.given[in.Share]:
		return 0, seal.ErrDuplicateShare
	}
	f.given[in.Share] = true
	if len(f.given) == 2 {
		f.sealed = false
		f.given = map[string]bool{}
		return 0, nil
	}
	return 2 - len(f.given), nil
}

func (f *fakeSeal) Seal(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sealed = true
	return nil
}

func TestSealRPCs(t *testing.T) {
	fs := &fakeSeal{sealed: true, given: map[string]bool{}}
	var logs syncBuffer
	e := start(t, admintest.Options{Seal: fs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := e.client(t, admin.AdminOrganization)
	ctx := t.Context()

	st, err := c.SealStatus(ctx, &adminpb.SealStatusRequest{})
	if err != nil || !st.GetSealed() || st.GetMethod() != "shamir" || st.GetThreshold() != 2 {
		t.Fatalf("SealStatus = %v, %v", st, err)
	}
	_, err = c.Unseal(ctx, &adminpb.UnsealRequest{})
	wantStatus(t, err, codes.InvalidArgument, "give a passphrase, a share or a PIN")
	_, err = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: strings.Repeat("x", 5000)}})
	wantStatus(t, err, codes.InvalidArgument, "too long")
	_, err = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "bogus"}})
	wantStatus(t, err, codes.InvalidArgument, "share is malformed")
	_, err = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Passphrase{Passphrase: []byte("a passphrase")}})
	wantStatus(t, err, codes.InvalidArgument, "another unseal method")

	resp, err := c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "s1"}})
	if err != nil || !resp.GetSealed() || resp.GetRemaining() != 1 {
		t.Fatalf("first share: %v, %v", resp, err)
	}
	_, err = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "s1"}})
	wantStatus(t, err, codes.InvalidArgument, "already submitted")
	if resp, err = c.Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "s2"}}); err != nil || resp.GetSealed() {
		t.Fatalf("second share: %v, %v", resp, err)
	}
	if _, err := c.Seal(ctx, &adminpb.SealRequest{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.SealStatus(ctx, &adminpb.SealStatusRequest{}); !st.GetSealed() {
		t.Error("Seal did not seal")
	}
	// Nothing the operators typed reaches the log.
	for _, secret := range []string{"s1", "s2", "a passphrase", "bogus"} {
		if strings.Contains(logs.String(), "="+secret) || strings.Contains(logs.String(), `"`+secret+`"`) {
			t.Errorf("the log holds the input %q:\n%s", secret, logs.String())
		}
	}

	// The seal RPCs need an operator; a node certificate or another
	// organization is refused before the node sees anything.
	before := len(fs.inputs)
	for _, org := range []string{"kmsd-nodes", "dev"} {
		_, err := e.client(t, org).Unseal(ctx, &adminpb.UnsealRequest{Key: &adminpb.UnsealRequest_Share{Share: "s1"}})
		if err == nil {
			t.Errorf("Unseal with O=%s accepted", org)
		}
		if _, err := e.client(t, org).Seal(ctx, &adminpb.SealRequest{}); err == nil {
			t.Errorf("Seal with O=%s accepted", org)
		}
	}
	if len(fs.inputs) != before {
		t.Error("a refused caller's input reached the node")
	}
}

func TestSealRPCsWithoutControl(t *testing.T) {
	e := start(t, admintest.Options{})
	_, err := e.client(t, admin.AdminOrganization).SealStatus(t.Context(), &adminpb.SealStatusRequest{})
	wantStatus(t, err, codes.Unimplemented, "cannot be sealed")
}
