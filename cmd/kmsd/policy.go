package main

import (
	"context"

	"github.com/kmsd/kmsd/admin"
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
	st, err := h.synced(ctx)
	if err != nil {
		return nil, err
	}
	return st.PolicyEntries()
}

// SetPolicy implements admin.AccessPolicy.
func (h *host) SetPolicy(ctx context.Context, entries []*kmsdpb.PolicyEntry, actor string) error {
	return h.applyControl(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) { return st.EncodeSetPolicy(env, entries) }, actor)
}

// DeletePolicy implements admin.AccessPolicy.
func (h *host) DeletePolicy(ctx context.Context, name, actor string) error {
	return h.applyControl(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) { return st.EncodeDeletePolicyEntry(env, name) }, actor)
}

// Accounting implements admin.UsageSource, as of a read index.
func (h *host) Accounting(ctx context.Context) (admin.Accounting, error) {
	st, err := h.synced(ctx)
	if err != nil {
		return nil, err
	}
	return st, nil
}
