package seal

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// The shamir method splits a random secret scalar (Ristretto255) into Shares
// shares with circl's secretsharing, of which exactly Threshold recover it
// (circl's t is Threshold-1: it recovers from t+1 shares). The unseal key is
// HKDF-SHA256(secret, "kmsd shamir unseal v1" + cluster id). The record keeps
// Feldman commitments to the sharing polynomial, so every submitted share is
// checked on its own before it counts. Shares are printed once at init and
// stored nowhere; every node of a cluster shares one record (AdoptRecord).

const (
	maxShares    = 16
	shamirGroup  = "ristretto255"
	sharePrefix  = "kmsd-share1"
	scalarSize   = 32
	infoShamir   = "kmsd shamir unseal v1"
	domainSetID  = "kmsd/v1/share-set"
	shareSetSize = 4
)

var ristretto = group.Ristretto255

// ShamirParams are the public parameters of a shamir record.
type ShamirParams struct {
	Shares      int      `json:"shares"`
	Threshold   int      `json:"threshold"`
	Group       string   `json:"group"`       // "ristretto255"
	Commitments [][]byte `json:"commitments"` // Feldman commitments g^a_i, Threshold elements, base64
}

func validShamir(shares, threshold int) error {
	switch {
	case shares < 1 || shares > maxShares:
		return fmt.Errorf("%d shares: want 1 to %d", shares, maxShares)
	case threshold < 1 || threshold > shares:
		return fmt.Errorf("threshold %d: want 1 to the number of shares (%d)", threshold, shares)
	case threshold < 2 && shares > 1:
		return fmt.Errorf("threshold 1 of %d shares would make every share the whole key: want at least 2", shares)
	}
	return nil
}

// shareSetID names the share set of a record, so that a share from another
// init is refused by name: hex(SHA-256("kmsd/v1/share-set" | lp(cluster id)
// | commitments)[:4]).
func shareSetID(clusterID string, p *ShamirParams) string {
	h := sha256.New()
	h.Write(appendLP([]byte(domainSetID), clusterID))
	for _, c := range p.Commitments {
		h.Write(appendLP(nil, string(c)))
	}
	return hex.EncodeToString(h.Sum(nil)[:shareSetSize])
}

// shamirKEK derives the unseal key from the secret scalar.
func shamirKEK(secret group.Scalar, clusterID string) (*aesKEK, error) {
	sb, err := secret.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(sb)
	key, err := hkdf.Key(sha256.New, sb, nil, infoShamir+clusterID, keySize)
	if err != nil {
		return nil, err
	}
	return newAESKEK(key)
}

type shamirMethod struct{}

func (shamirMethod) create(_ string, rec *Record, opts InitOptions) (created, error) {
	if err := validShamir(opts.Shares, opts.Threshold); err != nil {
		return created{}, fmt.Errorf("%w: %v", ErrBadOptions, err)
	}
	secret := ristretto.RandomScalar(rand.Reader)
	defer secret.SetUint64(0)
	ss := secretsharing.New(rand.Reader, uint(opts.Threshold-1), secret)
	p := &ShamirParams{Shares: opts.Shares, Threshold: opts.Threshold, Group: shamirGroup}
	for _, c := range ss.CommitSecret() {
		b, err := c.MarshalBinary()
		if err != nil {
			return created{}, err
		}
		p.Commitments = append(p.Commitments, b)
	}
	k, err := shamirKEK(secret, rec.ClusterID)
	if err != nil {
		return created{}, err
	}
	set := shareSetID(rec.ClusterID, p)
	var out []string
	for _, s := range ss.Share(uint(opts.Shares)) {
		v, err := s.Value.MarshalBinary()
		s.Value.SetUint64(0)
		if err != nil {
			k.close()
			return created{}, err
		}
		out = append(out, fmt.Sprintf("%s.%s.%d.%s", sharePrefix, set, len(out)+1, base64.RawURLEncoding.EncodeToString(v)))
		clear(v)
	}
	rec.Shamir = p
	return created{kek: k, shares: out}, nil
}

func (shamirMethod) check(rec *Record) error {
	_, err := shamirCommitments(rec)
	return err
}

// shamirCommitments validates a shamir record and decodes its commitments.
func shamirCommitments(rec *Record) (secretsharing.SecretCommitment, error) {
	p := rec.Shamir
	if p == nil {
		return nil, fmt.Errorf("%w: shamir record without parameters", ErrBadRecord)
	}
	if err := validShamir(p.Shares, p.Threshold); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if p.Group != shamirGroup {
		return nil, fmt.Errorf("%w: group %q, want %q", ErrBadRecord, p.Group, shamirGroup)
	}
	if len(p.Commitments) != p.Threshold {
		return nil, fmt.Errorf("%w: %d commitments for threshold %d", ErrBadRecord, len(p.Commitments), p.Threshold)
	}
	cs := make(secretsharing.SecretCommitment, len(p.Commitments))
	for i, b := range p.Commitments {
		cs[i] = ristretto.NewElement()
		if err := cs[i].UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("%w: commitment %d is not a %s element", ErrBadRecord, i, shamirGroup)
		}
	}
	return cs, nil
}

// parseShare decodes "kmsd-share1.<set>.<index>.<base64url value>". Its
// errors name what is wrong, never the value.
func parseShare(rec *Record, text string) (secretsharing.Share, error) {
	parts := strings.Split(strings.TrimSpace(text), ".")
	if len(parts) != 4 || parts[0] != sharePrefix {
		return secretsharing.Share{}, fmt.Errorf("%w: not of the form %s.<set>.<index>.<value>", ErrBadShare, sharePrefix)
	}
	if want := shareSetID(rec.ClusterID, rec.Shamir); parts[1] != want {
		return secretsharing.Share{}, fmt.Errorf("%w: it belongs to share set %q, this seal record's set is %q", ErrBadShare, parts[1], want)
	}
	idx, err := strconv.ParseUint(parts[2], 10, 8)
	if err != nil || idx < 1 || int(idx) > rec.Shamir.Shares || strconv.FormatUint(idx, 10) != parts[2] {
		return secretsharing.Share{}, fmt.Errorf("%w: index is not 1 to %d", ErrBadShare, rec.Shamir.Shares)
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	defer clear(v)
	if err != nil || len(v) != scalarSize {
		return secretsharing.Share{}, fmt.Errorf("%w: share %d's value is not %d bytes of base64url", ErrBadShare, idx, scalarSize)
	}
	s := secretsharing.Share{ID: ristretto.NewScalar().SetUint64(idx), Value: ristretto.NewScalar()}
	if err := s.Value.UnmarshalBinary(v); err != nil {
		return secretsharing.Share{}, fmt.Errorf("%w: share %d's value is not a canonical scalar", ErrBadShare, idx)
	}
	return s, nil
}

// shareProgress is the Shamir unseal in progress: the verified shares
// submitted so far for one record.
type shareProgress struct {
	record string // cluster id and share set the shares belong to
	shares []secretsharing.Share
}

func (p *shareProgress) reset() {
	for _, s := range p.shares {
		s.Value.SetUint64(0)
	}
	*p = shareProgress{}
}

// SubmitShare checks one share against the record's commitments and counts
// it. When Threshold distinct valid shares are in, it recovers the unseal
// key, unseals the barrier and clears the shares. It returns how many shares
// are still needed. A malformed, mistyped or foreign share fails with
// ErrBadShare and a repeated one with ErrDuplicateShare; neither counts, and
// the shares already in stay. Progress belongs to one record: a share for
// another record starts over.
func (b *Barrier) SubmitShare(rec *Record, share string) (remaining int, err error) {
	if rec == nil {
		return 0, ErrNoRecord
	}
	if rec.Method != MethodShamir {
		return 0, fmt.Errorf("%w: seal.json uses %q, not %q", ErrWrongMethod, rec.Method, MethodShamir)
	}
	commits, err := shamirCommitments(rec)
	if err != nil {
		return 0, err
	}
	if !b.Sealed() {
		return 0, ErrAlreadyUnsealed
	}
	threshold := rec.Shamir.Threshold
	b.sharesMu.Lock()
	defer b.sharesMu.Unlock()
	if id := rec.ClusterID + "/" + shareSetID(rec.ClusterID, rec.Shamir); b.pending.record != id {
		b.pending.reset()
		b.pending.record = id
	}
	left := func() int { return threshold - len(b.pending.shares) }
	s, err := parseShare(rec, share)
	if err != nil {
		return left(), err
	}
	for _, have := range b.pending.shares {
		if have.ID.IsEqual(s.ID) {
			s.Value.SetUint64(0)
			return left(), ErrDuplicateShare
		}
	}
	if !secretsharing.Verify(uint(threshold-1), s, commits) {
		s.Value.SetUint64(0)
		return left(), fmt.Errorf("%w: it fails its commitment check", ErrBadShare)
	}
	b.pending.shares = append(b.pending.shares, s)
	if left() > 0 {
		return left(), nil
	}
	secret, err := secretsharing.Recover(uint(threshold-1), b.pending.shares)
	b.pending.reset()
	if err != nil {
		return threshold, fmt.Errorf("%w: %v", ErrWrongShares, err)
	}
	k, err := shamirKEK(secret, rec.ClusterID)
	secret.SetUint64(0)
	if err != nil {
		return threshold, err
	}
	defer k.close()
	if err := b.unsealRecord(rec, k, ErrWrongShares, k.key); err != nil {
		return threshold, err
	}
	return 0, nil
}

// ResetShares forgets (and clears) the shares submitted so far.
func (b *Barrier) ResetShares() {
	b.sharesMu.Lock()
	defer b.sharesMu.Unlock()
	b.pending.reset()
}
