package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The cluster CA for client certificates (admin.CertificateAuthority): its
// key is sealed by the barrier under the id fsm.AuthorityID, like an
// object's material, and opened only to sign one certificate.

var authorityBinding = seal.Binding{ID: fsm.AuthorityID}

// Authority implements admin.CertificateAuthority.
func (h *host) Authority(ctx context.Context) ([]*x509.Certificate, error) {
	st, err := h.synced(ctx)
	if err != nil {
		return nil, err
	}
	a, err := st.CertificateAuthority()
	if err != nil || a == nil {
		return nil, err
	}
	chain := make([]*x509.Certificate, 0, len(a.GetChain()))
	for _, der := range a.GetChain() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// SetAuthority implements admin.CertificateAuthority.
func (h *host) SetAuthority(ctx context.Context, chain []*x509.Certificate, pkcs8 []byte, actor string) error {
	sealed, err := h.barrier.SealObject(authorityBinding, pkcs8)
	if err != nil {
		return err
	}
	a := &kmsdpb.CertificateAuthority{SealedKey: sealed}
	for _, c := range chain {
		a.Chain = append(a.Chain, c.Raw)
	}
	return h.applyControl(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) { return st.EncodeSetAuthority(env, a) }, actor)
}

// AuthorityKey implements admin.CertificateAuthority.
func (h *host) AuthorityKey(ctx context.Context) (crypto.Signer, error) {
	st, err := h.synced(ctx)
	if err != nil {
		return nil, err
	}
	a, err := st.CertificateAuthority()
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, fsm.ErrNoAuthority
	}
	pkcs8, err := h.barrier.OpenObject(authorityBinding, a.GetSealedKey())
	if err != nil {
		return nil, err
	}
	defer clear(pkcs8)
	key, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("kmsd: the stored CA key cannot sign")
	}
	return signer, nil
}

// Record implements admin.CertificateAuthority.
func (h *host) Record(ctx context.Context, ic *kmsdpb.IssuedCertificate, binding *kmsdpb.PolicyEntry, actor string) error {
	return h.applyControl(ctx, func(st *fsm.FSM, env *kmsdpb.Command) ([]byte, error) {
		return st.EncodeRecordCertificate(env, ic, binding)
	}, actor)
}

// Issued implements admin.CertificateAuthority.
func (h *host) Issued(ctx context.Context) ([]*kmsdpb.IssuedCertificate, error) {
	st, err := h.synced(ctx)
	if err != nil {
		return nil, err
	}
	return st.IssuedCertificates()
}

// ClientCAs implements admin.CertificateAuthority.
func (h *host) ClientCAs() *x509.CertPool { return h.cfg.KMIPTLS.ClientCAs }

// synced returns the state machine once it has applied what the cluster
// acknowledged before the call.
func (h *host) synced(ctx context.Context) (*fsm.FSM, error) {
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
	return st, nil
}

// applyControl proposes a command of the cluster's own state on behalf of
// an operator and returns its outcome.
func (h *host) applyControl(ctx context.Context, encode func(*fsm.FSM, *kmsdpb.Command) ([]byte, error), actor string) error {
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
