package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The certificate deny list at work on this node: h.guard checks every
// handshake of the KMIP, gRPC and Raft ports against the list of the local
// state machine, and watchRevocations closes the open connections that a
// new list refuses. While sealed, or catching up after an unseal, the node
// keeps the last list it had.

// revocationSource is the deny list of the state machine of the current
// unsealed period, once it has caught up; nil before.
func (h *host) revocationSource() denylist.Source {
	store := h.store.Load()
	if store == nil || !h.serving.Load() {
		return nil
	}
	return store.Revocations
}

// kickRevocations makes the watcher read the deny list of a new state
// machine.
func (h *host) kickRevocations() {
	select {
	case h.revKick <- struct{}{}:
	default:
	}
}

// watchRevocations runs until ctx ends.
func (h *host) watchRevocations(ctx context.Context) {
	logger := h.logger.With("component", "denylist")
	denylist.Watch(ctx, h.revocationSource, h.revKick, h.guard.Checker, logger, func(l *denylist.List) { h.checkOwnCertificates(l, logger) }, h.guard.Conns)
}

// checkOwnCertificates says loudly when the deny list names a certificate
// this node presents: its peers refuse it, so a revoked node certificate
// cuts the node off from Raft and the node service, and a revoked KMIP
// server certificate fails clients that check it.
func (h *host) checkOwnCertificates(l *denylist.List, logger *slog.Logger) {
	if h.cfg.TLS == nil {
		return
	}
	m := h.cfg.TLS.material()
	for _, own := range []struct {
		what string
		cert tls.Certificate
	}{{"node", m.nodeCert}, {"KMIP server", m.kmipCert}} {
		chain := make([]*x509.Certificate, 0, len(own.cert.Certificate))
		for _, der := range own.cert.Certificate {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				break
			}
			chain = append(chain, c)
		}
		// The files hold the leaf (and intermediates), not the CA: try
		// each trusted CA as the last issuer, for entries by serial.
		chains := [][]*x509.Certificate{chain}
		for _, ca := range h.cfg.TLS.trustedCAs() {
			chains = append(chains, append(slices.Clip(chain), ca))
		}
		if e, hit := l.Hit(chains); hit {
			logger.Error("this node's own "+own.what+" certificate is on the cluster's deny list: other nodes refuse it. "+
				"Give the node a new certificate and reload (SIGHUP) or restart it, or remove it from the cluster (kmsctl cluster remove)",
				"certificate", own.what, "entry", e.Key(), "reason", e.Reason)
		}
	}
}

// RevokeCertificates implements admin.RevocationControl.
func (h *host) RevokeCertificates(ctx context.Context, entries []denylist.Entry, actor string) (int, error) {
	rn, err := h.running()
	if err != nil {
		return 0, err
	}
	store := h.store.Load()
	if store == nil {
		return 0, cluster.ErrSealed
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return 0, err
	}
	data, err := store.EncodeRevokeCertificates(&kmsdpb.Command{RequestId: id, TimeUnixNano: time.Now().UnixNano(), Actor: actor}, entries)
	if err != nil {
		return 0, err
	}
	r, err := cluster.ApplyAs[*fsm.Result](ctx, rn, data)
	if err != nil {
		return 0, err
	}
	switch {
	case errors.Is(r.Err, fsm.ErrTooManyRevoked):
		return 0, denylist.ErrListFull
	case errors.Is(r.Err, fsm.ErrMalformed):
		return 0, denylist.ErrInvalidEntry
	case r.Err != nil:
		return 0, r.Err
	}
	return fsm.RevokedAdded(r), nil
}

// RevokedCertificates implements admin.RevocationControl.
func (h *host) RevokedCertificates(ctx context.Context) ([]denylist.Entry, error) {
	rn, err := h.running()
	if err != nil {
		return nil, err
	}
	if err := rn.ReadBarrier(ctx); err != nil {
		return nil, err
	}
	store := h.store.Load()
	if store == nil {
		return nil, cluster.ErrSealed
	}
	entries, _ := store.Revocations()
	return entries, nil
}

// TrustedCAs implements admin.RevocationControl.
func (h *host) TrustedCAs() []*x509.Certificate {
	if h.cfg.TLS == nil {
		return nil
	}
	return h.cfg.TLS.trustedCAs()
}
