package admintest

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// AccessPolicy is an admin.AccessPolicy and admin.UsageSource over a real
// state machine, as a single node keeps it.
type AccessPolicy struct {
	FSM *fsm.FSM

	mu    sync.Mutex
	index uint64
}

// NewAccessPolicy returns an empty policy.
func NewAccessPolicy() *AccessPolicy { return &AccessPolicy{FSM: fsm.New(fsm.Config{})} }

// PolicyEntries implements admin.AccessPolicy.
func (p *AccessPolicy) PolicyEntries(context.Context) ([]*kmsdpb.PolicyEntry, error) {
	return p.FSM.PolicyEntries()
}

// SetPolicy implements admin.AccessPolicy.
func (p *AccessPolicy) SetPolicy(_ context.Context, entries []*kmsdpb.PolicyEntry, actor string) error {
	entry, err := p.FSM.EncodeSetPolicy(p.env(actor), entries)
	if err != nil {
		return err
	}
	return p.apply(entry)
}

// DeletePolicy implements admin.AccessPolicy.
func (p *AccessPolicy) DeletePolicy(_ context.Context, name, actor string) error {
	entry, err := p.FSM.EncodeDeletePolicyEntry(p.env(actor), name)
	if err != nil {
		return err
	}
	return p.apply(entry)
}

// Accounting implements admin.UsageSource.
func (p *AccessPolicy) Accounting(context.Context) (admin.Accounting, error) { return p.FSM, nil }

// CreateKey stores, in tenant, a symmetric key with id, the given sealed
// material and an Object Type attribute, through the state machine's
// create command, so that it counts in the tenant's usage.
func (p *AccessPolicy) CreateKey(tenant, id string, sealed []byte) error {
	obj := &kmsdpb.StoredObject{Id: id, SealedMaterial: sealed, Attributes: [][]byte{
		fsm.EncodeAttribute(kmip.Attribute{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeSymmetricKey}),
	}}
	entry, err := fsm.Encode(kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, p.env(tenant), &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{obj}})
	if err != nil {
		return err
	}
	return p.apply(entry)
}

func (p *AccessPolicy) env(actor string) *kmsdpb.Command {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &kmsdpb.Command{RequestId: id, TimeUnixNano: time.Now().UnixNano(), Actor: actor}
}

func (p *AccessPolicy) apply(entry []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index++
	return p.FSM.Apply(p.index, entry).Err
}
