package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The cluster's certificate authority for clients: the CA certificate chain
// and its private key, sealed under the keyring like an object's material,
// and a record of every certificate issued with it. Issuing records the
// certificate and sets its policy binding in one command.

func init() {
	register(kmsdpb.CommandType_COMMAND_TYPE_SET_CERTIFICATE_AUTHORITY, func() *kmsdpb.SetCertificateAuthority { return &kmsdpb.SetCertificateAuthority{} }, applySetAuthority)
	register(kmsdpb.CommandType_COMMAND_TYPE_RECORD_CERTIFICATE, func() *kmsdpb.RecordCertificate { return &kmsdpb.RecordCertificate{} }, applyRecordCertificate)
}

const (
	tableAuthority = "authority"
	tableIssued    = "issued"
	// AuthorityID is the id the CA key is sealed under, and its id in a
	// rewrap: no object id is empty-prefixed like it.
	AuthorityID = "\x00pki-authority"

	maxChainCerts   = 8
	maxCertBytes    = 16 << 10
	maxIssuedCerts  = 1_000_000
	authorityRowKey = "ca"
)

type authorityRow struct {
	Key       string
	Authority *kmsdpb.CertificateAuthority
}

type issuedRow struct {
	Serial string
	Cert   *kmsdpb.IssuedCertificate
}

func authorityOf(tx *memdb.Txn) (*kmsdpb.CertificateAuthority, error) {
	raw, err := tx.First(tableAuthority, indexID, authorityRowKey)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*authorityRow).Authority, nil
}

func checkAuthority(a *kmsdpb.CertificateAuthority) error {
	if a == nil || len(a.GetChain()) == 0 || len(a.GetChain()) > maxChainCerts {
		return fmt.Errorf("%w: a certificate authority needs 1 to %d certificates", ErrMalformed, maxChainCerts)
	}
	for _, c := range a.GetChain() {
		if len(c) == 0 || len(c) > maxCertBytes {
			return fmt.Errorf("%w: certificate of %d bytes", ErrMalformed, len(c))
		}
	}
	if n := len(a.GetSealedKey()); n == 0 || n > maxCertBytes {
		return fmt.Errorf("%w: sealed CA key of %d bytes", ErrMalformed, n)
	}
	return nil
}

func applySetAuthority(tx *memdb.Txn, c *applyCtx, body *kmsdpb.SetCertificateAuthority) ([]string, error) {
	a := body.GetAuthority()
	if err := checkAuthority(a); err != nil {
		return nil, err
	}
	if err := checkKeyVersion(tx, a.GetSealedKey()); err != nil {
		return nil, err
	}
	a = proto.Clone(a).(*kmsdpb.CertificateAuthority)
	a.SetUnixNano, a.SetBy = c.cmd.GetTimeUnixNano(), c.cmd.GetActor()
	if err := tx.Insert(tableAuthority, &authorityRow{Key: authorityRowKey, Authority: a}); err != nil {
		return nil, err
	}
	return nil, nil
}

func isLowerHex(s string) bool { return s != "" && strings.Trim(s, "0123456789abcdef") == "" }

func checkIssued(ic *kmsdpb.IssuedCertificate) error {
	switch {
	case ic == nil:
		return fmt.Errorf("%w: no certificate", ErrMalformed)
	case len(ic.GetSerial()) > 40 || !isLowerHex(ic.GetSerial()):
		return fmt.Errorf("%w: serial %q", ErrMalformed, ic.GetSerial())
	case len(ic.GetCertificate()) == 0 || len(ic.GetCertificate()) > maxCertBytes:
		return fmt.Errorf("%w: certificate of %d bytes", ErrMalformed, len(ic.GetCertificate()))
	case len(ic.GetCommonName()) > 1024 || len(ic.GetTenant()) > 1024 || len(ic.GetRole()) > 1024 || len(ic.GetBinding()) > 1024 || len(ic.GetIssuedBy()) > 1024:
		return fmt.Errorf("%w: certificate record field too long", ErrMalformed)
	}
	sum := sha256.Sum256(ic.GetCertificate())
	if ic.GetFingerprint() != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: fingerprint does not match the certificate", ErrMalformed)
	}
	return nil
}

func applyRecordCertificate(tx *memdb.Txn, c *applyCtx, body *kmsdpb.RecordCertificate) ([]string, error) {
	ic := body.GetCertificate()
	if err := checkIssued(ic); err != nil {
		return nil, err
	}
	if a, err := authorityOf(tx); err != nil {
		return nil, err
	} else if a == nil {
		return nil, ErrNoAuthority
	}
	if raw, err := tx.First(tableIssued, indexID, ic.GetSerial()); err != nil {
		return nil, err
	} else if raw != nil {
		return nil, ErrExists
	}
	n, err := countRows(tx, tableIssued)
	if err != nil {
		return nil, err
	}
	if n >= maxIssuedCerts {
		return nil, ErrTooManyCertificates
	}
	if b := body.GetBinding(); b != nil {
		if b.GetName() != ic.GetBinding() {
			return nil, fmt.Errorf("%w: the binding is not the one the record names", ErrMalformed)
		}
		if _, err := applySetPolicy(tx, c, &kmsdpb.SetPolicy{Entries: []*kmsdpb.PolicyEntry{b}}); err != nil {
			return nil, err
		}
	}
	ic = proto.Clone(ic).(*kmsdpb.IssuedCertificate)
	ic.IssuedUnixNano, ic.IssuedBy = c.cmd.GetTimeUnixNano(), c.cmd.GetActor()
	if err := tx.Insert(tableIssued, &issuedRow{Serial: ic.GetSerial(), Cert: ic}); err != nil {
		return nil, err
	}
	return []string{ic.GetSerial()}, nil
}

// CertificateAuthority returns the issuing CA, nil when none is set.
func (f *FSM) CertificateAuthority() (*kmsdpb.CertificateAuthority, error) {
	return authorityOf(f.readTxn())
}

// IssuedCertificates lists the issued certificates by serial.
func (f *FSM) IssuedCertificates() ([]*kmsdpb.IssuedCertificate, error) {
	it, err := f.readTxn().Get(tableIssued, indexID)
	if err != nil {
		return nil, err
	}
	var out []*kmsdpb.IssuedCertificate
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*issuedRow).Cert)
	}
	return out, nil
}

// EncodeSetAuthority builds the entry that sets the issuing CA.
func (f *FSM) EncodeSetAuthority(env *kmsdpb.Command, a *kmsdpb.CertificateAuthority) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_SET_CERTIFICATE_AUTHORITY, env, &kmsdpb.SetCertificateAuthority{Authority: a})
}

// EncodeRecordCertificate builds the entry that records an issued
// certificate and sets its binding.
func (f *FSM) EncodeRecordCertificate(env *kmsdpb.Command, ic *kmsdpb.IssuedCertificate, binding *kmsdpb.PolicyEntry) ([]byte, error) {
	return Encode(kmsdpb.CommandType_COMMAND_TYPE_RECORD_CERTIFICATE, env, &kmsdpb.RecordCertificate{Certificate: ic, Binding: binding})
}

// authoritySealed is the CA key as a rewrap sees it, or nothing.
func authoritySealed(tx *memdb.Txn) []seal.SealedObject {
	a, err := authorityOf(tx)
	if err != nil || a == nil {
		return nil
	}
	return []seal.SealedObject{{ID: AuthorityID, Material: bytes.Clone(a.GetSealedKey())}}
}

// rewrapAuthority replaces the CA key's sealed form if it is still the one
// the proposer re-sealed.
func rewrapAuthority(tx *memdb.Txn, it *kmsdpb.RewrapItem) (bool, error) {
	a, err := authorityOf(tx)
	if err != nil || a == nil {
		return false, err
	}
	if sum := sha256.Sum256(a.GetSealedKey()); !bytes.Equal(sum[:], it.GetPreviousSha256()) {
		return false, nil
	}
	a = proto.Clone(a).(*kmsdpb.CertificateAuthority)
	a.SealedKey = it.GetSealedMaterial()
	return true, tx.Insert(tableAuthority, &authorityRow{Key: authorityRowKey, Authority: a})
}

func authorityRecords(tx *memdb.Txn) ([]proto.Message, error) {
	var out []proto.Message
	a, err := authorityOf(tx)
	if err != nil {
		return nil, err
	}
	if a != nil {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_CertificateAuthority{CertificateAuthority: a}})
	}
	it, err := tx.Get(tableIssued, indexID)
	if err != nil {
		return nil, err
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_IssuedCertificate{IssuedCertificate: raw.(*issuedRow).Cert}})
	}
	return out, nil
}

func restoreAuthority(tx *memdb.Txn, a *kmsdpb.CertificateAuthority) error {
	if err := checkAuthority(a); err != nil {
		return err
	}
	if raw, _ := tx.First(tableAuthority, indexID, authorityRowKey); raw != nil {
		return fmt.Errorf("certificate authority appears twice")
	}
	return tx.Insert(tableAuthority, &authorityRow{Key: authorityRowKey, Authority: a})
}

func restoreIssued(tx *memdb.Txn, ic *kmsdpb.IssuedCertificate) error {
	if err := checkIssued(ic); err != nil {
		return err
	}
	if raw, _ := tx.First(tableIssued, indexID, ic.GetSerial()); raw != nil {
		return fmt.Errorf("issued certificate %s appears twice", ic.GetSerial())
	}
	return tx.Insert(tableIssued, &issuedRow{Serial: ic.GetSerial(), Cert: ic})
}
