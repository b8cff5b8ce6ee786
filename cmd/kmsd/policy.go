package main

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Policy implements kmip.PolicySource: the policy of the local state
// machine, which every request reads.
func (h *host) Policy() (*policy.Policy, error) {
	if st := h.store.Load(); st != nil {
		return st.Policy()
	}
	return nil, cluster.ErrSealed
}

// PolicyEntries implements admin.AccessPolicy, as of a read index.
func (h *host) PolicyEntries(ctx context.Context) ([]*kmsdpb.PolicyEntry, error) {
	rn, err := h.running()
	if err != nil {
		return nil, err
	}
	if err := rn.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	st := h.store.Load()
	if st == nil {
		return nil, cluster.ErrSealed
	}
	return st.PolicyEntries()
}

// SetPolicy implements admin.AccessPolicy.
func (h *host) SetPolicy(ctx context.Context, entries []*kmsdpb.PolicyEntry, actor string) error {
	return h.applyPolicy(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) { return st.EncodeSetPolicy(env, entries) }, actor)
}

// DeletePolicy implements admin.AccessPolicy.
func (h *host) DeletePolicy(ctx context.Context, name, actor string) error {
	return h.applyPolicy(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) { return st.EncodeDeletePolicyEntry(env, name) }, actor)
}

func (h *host) applyPolicy(ctx context.Context, encode func(*fsm.FSM, *kmsdpb.Command) ([]byte, error), actor string) error {
	rn, err := h.running()
	if err != nil {
		return err
	}
	st := h.store.Load()
	if st == nil {
		return cluster.ErrSealed
	}
	reqID := make([]byte, 16)
	if _, err := rand.Read(reqID); err != nil {
		return err
	}
	entry, err := encode(st, &kmsdpb.Command{RequestId: reqID, TimeUnixNano: time.Now().UnixNano(), Actor: actor})
	if err != nil {
		return err
	}
	res, err := rn.Apply(ctx, entry)
	if err != nil {
		return err
	}
	return st.Outcome(res)
}
