package fsm

import (
	"fmt"
	"strconv"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The deny list of TLS certificates: every node refuses a handshake whose
// verified chain holds a listed certificate (cluster/revoke). Entries are
// added in one command per revocation or CRL import; an entry whose
// certificate has expired by a command's time is dropped then, since the
// certificate is refused anyway.

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_REVOKE_CERTIFICATES, func() *kmsdpb.RevokeCertificates { return &kmsdpb.RevokeCertificates{} }, applyRevokeCertificates)
}

const (
	tableRevoked = "revoked"
	// MaxRevokedCertificates bounds the deny list.
	MaxRevokedCertificates = 100_000
	// MaxRevokePerCommand bounds the entries of one command (one CRL).
	MaxRevokePerCommand = denylist.MaxCRLEntries
)

// revokedCert is one stored entry; ID is its denylist.Entry key.
type revokedCert struct {
	ID string
	denylist.Entry
}

func revokedFromProto(p *kmsdpb.RevokedCertificate) (*revokedCert, error) {
	e := denylist.Entry{
		Fingerprint: p.GetFingerprintSha256(), Issuer: p.GetIssuerSha256(), Serial: p.GetSerial(),
		Reason: p.GetReason(), RevokedBy: p.GetRevokedBy(),
	}
	if ns := p.GetRevokedUnixNano(); ns != 0 {
		e.Revoked = time.Unix(0, ns).UTC()
	}
	if ns := p.GetNotAfterUnixNano(); ns != 0 {
		e.NotAfter = time.Unix(0, ns).UTC()
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &revokedCert{ID: e.Key(), Entry: e}, nil
}

func (r *revokedCert) toProto() *kmsdpb.RevokedCertificate {
	return revokedProto(r.Entry)
}

func revokedProto(e denylist.Entry) *kmsdpb.RevokedCertificate {
	p := &kmsdpb.RevokedCertificate{
		FingerprintSha256: e.Fingerprint, IssuerSha256: e.Issuer, Serial: e.Serial,
		Reason: e.Reason, RevokedBy: e.RevokedBy,
	}
	if !e.Revoked.IsZero() {
		p.RevokedUnixNano = e.Revoked.UnixNano()
	}
	if !e.NotAfter.IsZero() {
		p.NotAfterUnixNano = e.NotAfter.UnixNano()
	}
	return p
}

// applyRevokeCertificates adds entries, all or nothing. The result's one
// id is the number of entries added (those already listed are skipped).
func applyRevokeCertificates(tx *memdb.Txn, c *applyCtx, body *kmsdpb.RevokeCertificates) ([]string, error) {
	n := len(body.GetEntries())
	if n == 0 || n > MaxRevokePerCommand {
		return nil, fmt.Errorf("%w: %d deny-list entries, 1 to %d allowed", ErrMalformed, n, MaxRevokePerCommand)
	}
	if len(c.cmd.GetActor()) > denylist.MaxActorLen {
		return nil, fmt.Errorf("%w: actor of %d bytes", ErrMalformed, len(c.cmd.GetActor()))
	}
	now := c.cmd.GetTimeUnixNano()
	if err := dropExpiredRevocations(tx, now); err != nil {
		return nil, err
	}
	count, err := countRows(tx, tableRevoked)
	if err != nil {
		return nil, err
	}
	added := 0
	for _, p := range body.GetEntries() {
		r, err := revokedFromProto(p)
		if err != nil {
			return nil, err
		}
		if raw, err := tx.First(tableRevoked, indexID, r.ID); err != nil {
			return nil, err
		} else if raw != nil {
			continue
		}
		if count >= MaxRevokedCertificates {
			return nil, ErrTooManyRevoked
		}
		r.Revoked = time.Unix(0, now).UTC()
		r.RevokedBy = c.cmd.GetActor()
		if err := tx.Insert(tableRevoked, r); err != nil {
			return nil, fmt.Errorf("fsm: insert deny-list entry: %w", err)
		}
		count++
		added++
	}
	return []string{strconv.Itoa(added)}, nil
}

// dropExpiredRevocations removes entries whose certificate expired before
// now (Unix nanoseconds).
func dropExpiredRevocations(tx *memdb.Txn, now int64) error {
	it, err := tx.Get(tableRevoked, indexID)
	if err != nil {
		return err
	}
	var expired []any
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if na := raw.(*revokedCert).NotAfter; !na.IsZero() && na.UnixNano() < now {
			expired = append(expired, raw)
		}
	}
	for _, raw := range expired {
		if err := tx.Delete(tableRevoked, raw); err != nil {
			return err
		}
	}
	return nil
}

// EncodeRevokeCertificates builds the entry that adds entries to the deny
// list; env carries the request id, time and actor. Revoked and RevokedBy
// of the entries are ignored: the state machine sets them.
func (f *FSM) EncodeRevokeCertificates(env *kmsdpb.Command, entries []denylist.Entry) ([]byte, error) {
	body := &kmsdpb.RevokeCertificates{Entries: make([]*kmsdpb.RevokedCertificate, len(entries))}
	for i, e := range entries {
		e.Revoked, e.RevokedBy = time.Time{}, ""
		body.Entries[i] = revokedProto(e)
	}
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_REVOKE_CERTIFICATES, env, body)
}

// RevokedAdded is the number of entries a RevokeCertificates result added.
func RevokedAdded(res *Result) int {
	if res == nil || len(res.IDs) != 1 {
		return 0
	}
	n, _ := strconv.Atoi(res.IDs[0])
	return n
}

// Revocations returns the deny list in key order, and a channel that is
// closed once it may have changed: an entry was applied or a snapshot
// restored.
func (f *FSM) Revocations() ([]denylist.Entry, <-chan struct{}) {
	f.mu.RLock()
	tx, changed := f.db.Txn(false), f.revoked.ch
	f.mu.RUnlock()
	var out []denylist.Entry
	it, err := tx.Get(tableRevoked, indexID)
	if err != nil {
		return nil, changed
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*revokedCert).Entry)
	}
	return out, changed
}

// revokedWatch wakes the readers of Revocations. It learns of a change from
// the revoked table's own watch channel after each commit, and is woken
// outright by a restore.
type revokedWatch struct {
	ch    chan struct{}
	table <-chan struct{} // closed by go-memdb when the table changes
}

// reset starts watching db; f.mu is held.
func (w *revokedWatch) reset(db *memdb.MemDB) {
	if w.ch != nil {
		close(w.ch)
	}
	w.ch = make(chan struct{})
	it, err := db.Txn(false).Get(tableRevoked, indexID)
	if err != nil {
		panic(fmt.Sprintf("fsm: watch the deny list: %v", err))
	}
	w.table = it.WatchCh()
}

// committed wakes the readers if the last commit changed the table; f.mu
// is held.
func (w *revokedWatch) committed(db *memdb.MemDB) {
	select {
	case <-w.table:
		w.reset(db)
	default:
	}
}

// revokedRecords lists the deny list for a snapshot, in key order.
func revokedRecords(tx *memdb.Txn) ([]*kmsdpb.ControlRecord, error) {
	it, err := tx.Get(tableRevoked, indexID)
	if err != nil {
		return nil, err
	}
	var out []*kmsdpb.ControlRecord
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_RevokedCertificate{RevokedCertificate: raw.(*revokedCert).toProto()}})
	}
	return out, nil
}

func restoreRevoked(tx *memdb.Txn, p *kmsdpb.RevokedCertificate) error {
	r, err := revokedFromProto(p)
	if err != nil {
		return err
	}
	if raw, _ := tx.First(tableRevoked, indexID, r.ID); raw != nil {
		return fmt.Errorf("deny-list entry appears twice")
	}
	return tx.Insert(tableRevoked, r)
}
