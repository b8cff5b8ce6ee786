package denylist

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Bounds on an imported CRL.
const (
	// MaxCRLSize bounds a CRL file, PEM or DER.
	MaxCRLSize = 4 << 20
	// MaxCRLEntries bounds the revoked certificates of one CRL, and of one
	// deny-list command.
	MaxCRLEntries = 10_000
)

// Errors of ParseCRL; their text is safe to show to an operator.
var (
	ErrBadCRL       = errors.New("denylist: not a certificate revocation list (PEM \"X509 CRL\" or DER)")
	ErrCRLTooLarge  = fmt.Errorf("denylist: the CRL is larger than %d bytes or lists more than %d certificates", MaxCRLSize, MaxCRLEntries)
	ErrUntrustedCRL = errors.New("denylist: the CRL is not signed by a CA this cluster trusts for clients, operators or nodes")
)

// ParseCRL reads a CRL (PEM or DER), checks that one of trusted signed it,
// and returns one entry (issuer and serial) per certificate it lists, with
// reason as each entry's reason when the CRL gives none, and the issuer's
// expiry as NotAfter: a certificate cannot outlive the CA that issued it.
func ParseCRL(data []byte, trusted []*x509.Certificate, reason string) ([]Entry, error) {
	if len(data) > MaxCRLSize {
		return nil, ErrCRLTooLarge
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, ErrBadCRL
		}
		der = block.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, ErrBadCRL
	}
	if len(crl.RevokedCertificateEntries) > MaxCRLEntries {
		return nil, ErrCRLTooLarge
	}
	issuer := signer(crl, trusted)
	if issuer == nil {
		return nil, ErrUntrustedCRL
	}
	out := make([]Entry, 0, len(crl.RevokedCertificateEntries))
	seen := map[string]bool{}
	for _, rc := range crl.RevokedCertificateEntries {
		if rc.SerialNumber == nil {
			continue
		}
		e := ForSerial(issuer, rc.SerialNumber, reason)
		if why := reasonText(rc.ReasonCode); why != "" && reason == "" {
			e.Reason = why
		}
		if e.Validate() != nil || seen[e.Key()] {
			continue
		}
		seen[e.Key()] = true
		out = append(out, e)
	}
	return out, nil
}

// signer is the trusted CA certificate whose key verifies the CRL's
// signature, and which may sign CRLs, or nil.
func signer(crl *x509.RevocationList, trusted []*x509.Certificate) *x509.Certificate {
	now := time.Now()
	for _, ca := range trusted {
		if !ca.IsCA || ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCRLSign == 0 {
			continue
		}
		if now.After(ca.NotAfter) || !bytes.Equal(crl.RawIssuer, ca.RawSubject) {
			continue
		}
		if crl.CheckSignatureFrom(ca) == nil {
			return ca
		}
	}
	return nil
}

// reasonText names an RFC 5280 CRLReason code.
func reasonText(code int) string {
	names := map[int]string{
		1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged", 4: "superseded",
		5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn", 10: "aACompromise",
	}
	return names[code]
}
