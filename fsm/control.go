package fsm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The cluster's own state next to the objects: one-time join tokens (only
// their hashes), and the keyring of data keys, each sealed under the root
// key, with the cluster id they belong to. The state machine never sees a
// token or a key in clear.

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_CREATE_JOIN_TOKEN, func() *kmsdpb.CreateJoinToken { return &kmsdpb.CreateJoinToken{} }, applyCreateJoinToken)
	register(kmsdpb.CommandType_COMMAND_TYPE_CONSUME_JOIN_TOKEN, func() *kmsdpb.ConsumeJoinToken { return &kmsdpb.ConsumeJoinToken{} }, applyConsumeJoinToken)
}

const (
	tableTokens = "tokens"
	tableMeta   = "meta"
	// maxJoinTokens bounds the live tokens, so that a stream of token
	// requests cannot grow the state without limit.
	maxJoinTokens = 1024
	// metaClusterID is the meta row holding the cluster id.
	metaClusterID = "cluster_id"
)

// joinToken is a stored join token: the SHA-256 of its text and its expiry.
type joinToken struct {
	ID        string // hex of the hash
	Hash      []byte
	Expires   int64 // Unix nanoseconds
	Created   int64
	CreatedBy string
}

func (t *joinToken) toProto() *kmsdpb.JoinToken {
	return &kmsdpb.JoinToken{Hash: t.Hash, ExpiresUnixNano: t.Expires, CreatedUnixNano: t.Created, CreatedBy: t.CreatedBy}
}

func tokenFromProto(p *kmsdpb.JoinToken) (*joinToken, error) {
	if len(p.GetHash()) != sha256.Size {
		return nil, fmt.Errorf("%w: join token hash of %d bytes", ErrMalformed, len(p.GetHash()))
	}
	return &joinToken{ID: hex.EncodeToString(p.GetHash()), Hash: p.GetHash(), Expires: p.GetExpiresUnixNano(),
		Created: p.GetCreatedUnixNano(), CreatedBy: p.GetCreatedBy()}, nil
}

// metaRow is one named value of the cluster's own state.
type metaRow struct {
	Key   string
	Value string
}

func applyCreateJoinToken(tx *memdb.Txn, c *applyCtx, body *kmsdpb.CreateJoinToken) ([]string, error) {
	t, err := tokenFromProto(body.GetToken())
	if err != nil {
		return nil, err
	}
	if t.Expires <= c.cmd.GetTimeUnixNano() {
		return nil, fmt.Errorf("%w: join token expires before it is created", ErrMalformed)
	}
	if err := dropExpiredTokens(tx, c.cmd.GetTimeUnixNano()); err != nil {
		return nil, err
	}
	n, err := countRows(tx, tableTokens)
	if err != nil {
		return nil, err
	}
	if n >= maxJoinTokens {
		return nil, ErrTooManyTokens
	}
	if raw, err := tx.First(tableTokens, indexID, t.ID); err != nil || raw != nil {
		return nil, ErrExists
	}
	t.Created = c.cmd.GetTimeUnixNano()
	t.CreatedBy = c.cmd.GetActor()
	if err := tx.Insert(tableTokens, t); err != nil {
		return nil, fmt.Errorf("fsm: insert join token: %w", err)
	}
	return nil, nil
}

// applyConsumeJoinToken spends a token: it exists and has not expired by
// the command's time. A spent token is deleted, so a second use finds none.
func applyConsumeJoinToken(tx *memdb.Txn, c *applyCtx, body *kmsdpb.ConsumeJoinToken) ([]string, error) {
	if len(body.GetHash()) != sha256.Size || body.GetNodeId() == "" {
		return nil, fmt.Errorf("%w: join token use needs a 32-byte hash and a node id", ErrMalformed)
	}
	raw, err := tx.First(tableTokens, indexID, hex.EncodeToString(body.GetHash()))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrTokenUnknown
	}
	if raw.(*joinToken).Expires <= c.cmd.GetTimeUnixNano() {
		return nil, ErrTokenExpired
	}
	if err := tx.Delete(tableTokens, raw); err != nil {
		return nil, err
	}
	return []string{body.GetNodeId()}, nil
}

func dropExpiredTokens(tx *memdb.Txn, now int64) error {
	it, err := tx.Get(tableTokens, indexID)
	if err != nil {
		return err
	}
	var expired []any
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if raw.(*joinToken).Expires <= now {
			expired = append(expired, raw)
		}
	}
	for _, raw := range expired {
		if err := tx.Delete(tableTokens, raw); err != nil {
			return err
		}
	}
	return nil
}

func countRows(tx *memdb.Txn, table string) (int, error) {
	it, err := tx.Get(table, indexID)
	if err != nil {
		return 0, err
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n, nil
}

// JoinTokens returns how many join tokens are live at now.
func (f *FSM) JoinTokens(now time.Time) int {
	it, err := f.readTxn().Get(tableTokens, indexID)
	if err != nil {
		return 0
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if raw.(*joinToken).Expires > now.UnixNano() {
			n++
		}
	}
	return n
}

// ClusterID returns the id of the cluster this state belongs to; empty
// before the first data key named it.
func (f *FSM) ClusterID() string {
	raw, err := f.readTxn().First(tableMeta, indexID, metaClusterID)
	if err != nil || raw == nil {
		return ""
	}
	return raw.(*metaRow).Value
}

// EncodeCreateJoinToken builds the entry that stores a join token's hash;
// env carries the request id, time and actor, as for every command.
func (f *FSM) EncodeCreateJoinToken(env *kmsdpb.Command, hash []byte, expires time.Time) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_CREATE_JOIN_TOKEN, env,
		&kmsdpb.CreateJoinToken{Token: &kmsdpb.JoinToken{Hash: hash, ExpiresUnixNano: expires.UnixNano()}})
}

// EncodeConsumeJoinToken builds the entry that spends a join token.
func (f *FSM) EncodeConsumeJoinToken(env *kmsdpb.Command, hash []byte, nodeID string) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_CONSUME_JOIN_TOKEN, env,
		&kmsdpb.ConsumeJoinToken{Hash: hash, NodeId: nodeID})
}

// Outcome returns the domain error of an Apply result, nil on success.
func (f *FSM) Outcome(res any) error {
	r, ok := res.(*Result)
	if !ok {
		return fmt.Errorf("fsm: result of type %T", res)
	}
	return r.Err
}

// controlRecords lists the cluster section of a snapshot in a fixed order:
// the cluster id, the clock, tokens by hash, data keys by version, the root transition
// (only after a root rotation), policy entries by name, the certificate
// authority, the issued certificates by serial, the certificate deny list
// by key.
func controlRecords(tx *memdb.Txn) ([]proto.Message, error) {
	var out []proto.Message
	if raw, err := tx.First(tableMeta, indexID, metaClusterID); err != nil {
		return nil, err
	} else if raw != nil {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_ClusterId{ClusterId: raw.(*metaRow).Value}})
	}
	if r := clockRecord(tx); r != nil {
		out = append(out, r)
	}
	it, err := tx.Get(tableTokens, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_JoinToken{JoinToken: raw.(*joinToken).toProto()}})
	}
	if it, err = tx.Get(tableDataKeys, indexID); err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_DataKey{DataKey: raw.(*dataKey).toProto()}})
	}
	if r, err := rootRecord(tx); err != nil {
		return nil, err
	} else if r != nil {
		out = append(out, r)
	}
	p, err := policyRecords(tx)
	if err != nil {
		return nil, err
	}
	a, err := authorityRecords(tx)
	if err != nil {
		return nil, err
	}
	out = append(append(out, p...), a...)
	revoked, err := revokedRecords(tx)
	if err != nil {
		return nil, err
	}
	for _, r := range revoked {
		out = append(out, r)
	}
	return out, nil
}

// restoreControl inserts one record of a snapshot's cluster section.
func restoreControl(tx *memdb.Txn, p *kmsdpb.ControlRecord) error {
	switch r := p.GetRecord().(type) {
	case *kmsdpb.ControlRecord_ClusterId:
		if r.ClusterId == "" {
			return fmt.Errorf("empty cluster id")
		}
		return tx.Insert(tableMeta, &metaRow{Key: metaClusterID, Value: r.ClusterId})
	case *kmsdpb.ControlRecord_ClockUnixSeconds:
		return restoreClock(tx, r.ClockUnixSeconds)
	case *kmsdpb.ControlRecord_JoinToken:
		t, err := tokenFromProto(r.JoinToken)
		if err != nil {
			return err
		}
		if raw, _ := tx.First(tableTokens, indexID, t.ID); raw != nil {
			return fmt.Errorf("join token appears twice")
		}
		return tx.Insert(tableTokens, t)
	case *kmsdpb.ControlRecord_DataKey:
		k, err := dataKeyFromProto(r.DataKey)
		if err != nil {
			return err
		}
		if raw, _ := tx.First(tableDataKeys, indexID, k.ID); raw != nil {
			return fmt.Errorf("data key version %d appears twice", k.Version)
		}
		return tx.Insert(tableDataKeys, k)
	case *kmsdpb.ControlRecord_RootTransition:
		return restoreRoot(tx, r.RootTransition)
	case *kmsdpb.ControlRecord_PolicyEntry:
		return restorePolicyEntry(tx, r.PolicyEntry)
	case *kmsdpb.ControlRecord_CertificateAuthority:
		return restoreAuthority(tx, r.CertificateAuthority)
	case *kmsdpb.ControlRecord_IssuedCertificate:
		return restoreIssued(tx, r.IssuedCertificate)
	case *kmsdpb.ControlRecord_RevokedCertificate:
		return restoreRevoked(tx, r.RevokedCertificate)
	}
	return fmt.Errorf("unknown cluster record")
}
