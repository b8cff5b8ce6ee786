package denylist

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"
	"unicode/utf8"
)

// Bounds on an entry's fields, enforced by Validate (and so by the state
// machine that stores entries).
const (
	// MaxSerialLen bounds a serial number: RFC 5280 allows 20 octets;
	// some CAs write 21, and room is left for a few more.
	MaxSerialLen = 32
	// MaxReasonLen bounds the reason text, in bytes.
	MaxReasonLen = 256
	// MaxActorLen bounds who added an entry, in bytes.
	MaxActorLen = 256
)

// ErrInvalidEntry reports an entry with a wrong field length or form.
var ErrInvalidEntry = errors.New("denylist: invalid deny-list entry")

// Entry is one certificate on the deny list: Fingerprint set, or Issuer and
// Serial set, never both.
type Entry struct {
	Fingerprint []byte // SHA-256 of the certificate's DER
	Issuer      []byte // SHA-256 of the issuing CA certificate's DER
	Serial      []byte // big-endian, no leading zero byte (zero is {0})
	Reason      string
	Revoked     time.Time // when it was added (the command's time)
	RevokedBy   string
	// NotAfter is when the certificate expires anyway; zero when unknown.
	NotAfter time.Time
}

// Fingerprint is the SHA-256 of a certificate's DER encoding.
func Fingerprint(c *x509.Certificate) []byte {
	sum := sha256.Sum256(c.Raw)
	return sum[:]
}

// SerialBytes is the canonical form of a serial number: big-endian
// magnitude without leading zero bytes, one zero byte for zero.
func SerialBytes(n *big.Int) []byte {
	b := new(big.Int).Abs(n).Bytes()
	if len(b) == 0 {
		return []byte{0}
	}
	return b
}

// ForCertificate is the entry that names c by its fingerprint.
func ForCertificate(c *x509.Certificate, reason string) Entry {
	return Entry{Fingerprint: Fingerprint(c), Reason: reason, NotAfter: c.NotAfter}
}

// ForSerial is the entry that names the certificate of serial issued by
// the CA certificate issuer.
func ForSerial(issuer *x509.Certificate, serial *big.Int, reason string) Entry {
	return Entry{Issuer: Fingerprint(issuer), Serial: SerialBytes(serial), Reason: reason, NotAfter: issuer.NotAfter}
}

// Validate checks the entry's form and field lengths.
func (e Entry) Validate() error {
	switch {
	case len(e.Fingerprint) > 0:
		if len(e.Fingerprint) != sha256.Size || len(e.Issuer) != 0 || len(e.Serial) != 0 {
			return fmt.Errorf("%w: a fingerprint entry has a 32-byte SHA-256 and no issuer or serial", ErrInvalidEntry)
		}
	case len(e.Issuer) > 0 || len(e.Serial) > 0:
		if len(e.Issuer) != sha256.Size {
			return fmt.Errorf("%w: the issuer is the 32-byte SHA-256 of the CA certificate", ErrInvalidEntry)
		}
		if len(e.Serial) == 0 || len(e.Serial) > MaxSerialLen || len(e.Serial) > 1 && e.Serial[0] == 0 {
			return fmt.Errorf("%w: a serial number is 1 to %d bytes without leading zeros", ErrInvalidEntry, MaxSerialLen)
		}
	default:
		return fmt.Errorf("%w: it names no certificate", ErrInvalidEntry)
	}
	if len(e.Reason) > MaxReasonLen || !utf8.ValidString(e.Reason) {
		return fmt.Errorf("%w: the reason is at most %d bytes of UTF-8", ErrInvalidEntry, MaxReasonLen)
	}
	if len(e.RevokedBy) > MaxActorLen {
		return fmt.Errorf("%w: the actor is at most %d bytes", ErrInvalidEntry, MaxActorLen)
	}
	return nil
}

// Key identifies the certificate the entry names: "sha256:<hex>" or
// "serial:<issuer hex>:<serial hex>". Two entries with one key are one.
func (e Entry) Key() string {
	if len(e.Fingerprint) > 0 {
		return "sha256:" + hex.EncodeToString(e.Fingerprint)
	}
	return serialKey(e.Issuer, e.Serial)
}

func serialKey(issuer, serial []byte) string {
	return "serial:" + hex.EncodeToString(issuer) + ":" + hex.EncodeToString(serial)
}

// Equal reports whether two entries name the same certificate.
func (e Entry) Equal(o Entry) bool {
	return bytes.Equal(e.Fingerprint, o.Fingerprint) && bytes.Equal(e.Issuer, o.Issuer) && bytes.Equal(e.Serial, o.Serial)
}

// ErrListFull reports a deny list at its bound.
var ErrListFull = errors.New("denylist: the deny list is full")
