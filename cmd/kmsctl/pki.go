package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// newPKICmd is the group of commands on the cluster's certificates: those it
// issues for clients, and the deny list that every node checks at each TLS
// handshake.
func newPKICmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Certificates of the cluster: issue client certificates for a tenant and role, revoke, import a CRL",
		Long: "The cluster issues KMIP client certificates with its CA (kmsd dev uses its KMIP CA; a production\n" +
			"cluster is given an operator's CA or intermediate with `pki ca set`). Issuing a certificate also\n" +
			"sets the policy binding that gives it its tenant and role, so it works at once.\n\n" +
			"A revoked certificate is refused at the TLS handshake of every node's KMIP, admin/node gRPC and\n" +
			"Raft ports, and its open connections are closed within seconds. This holds for node certificates\n" +
			"too: a node whose certificate is revoked is cut off from the others (issue it a new certificate\n" +
			"and restart it, or remove it with `kmsctl cluster remove`).",
	}
	crl := &cobra.Command{Use: "crl", Short: "Certificate revocation lists"}
	crl.AddCommand(newCRLImportCmd(ad))
	cmd.AddCommand(newPKIIssueCmd(ad), newPKISignCmd(ad), newPKIListCmd(ad), newPKICACmd(ad),
		newPKIRevokeCmd(ad), newPKIRevokedCmd(ad), crl)
	return cmd
}

// Bounds on what kmsctl reads before the server checks it again, and the
// page size of the list.
const (
	listPage   = 5000
	maxPEMFile = 64 << 10
	maxCRLFile = 4 << 20
)

// pkiErr is adminErr with the deny list's own answer: a full list.
func pkiErr(err error, addr string) error {
	if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
		return errors.New(st.Message())
	}
	return adminErr(err, addr, "")
}

// readLimited reads a whole file of at most max bytes.
func readLimited(file string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", file, max)
	}
	return b, nil
}

// parseHexBytes reads hex, with or without colons (as openssl prints
// fingerprints and serials).
func parseHexBytes(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

// parseSerial reads a serial number: decimal, 0x-prefixed hex, or hex
// bytes with colons.
func parseSerial(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ":") {
		b, err := parseHexBytes(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("invalid --serial %q: want decimal, 0x-hex or colon-separated hex", s)
		}
		return b, nil
	}
	n, ok := new(big.Int).SetString(s, 0)
	if !ok || n.Sign() < 0 {
		return nil, fmt.Errorf("invalid --serial %q: want decimal, 0x-hex or colon-separated hex", s)
	}
	if n.Sign() == 0 {
		return []byte{0}, nil
	}
	return n.Bytes(), nil
}

// revokedJSON is one deny-list entry as kmsctl shows it.
type revokedJSON struct {
	Fingerprint string     `json:"fingerprint_sha256,omitempty"`
	Issuer      string     `json:"issuer_sha256,omitempty"`
	Serial      string     `json:"serial,omitempty"`
	Reason      string     `json:"reason"`
	Revoked     *time.Time `json:"revoked,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
}

func revokedOf(p *adminpb.RevokedCertificate) revokedJSON {
	r := revokedJSON{Reason: p.GetReason(), RevokedBy: p.GetRevokedBy()}
	if len(p.GetFingerprintSha256()) > 0 {
		r.Fingerprint = hex.EncodeToString(p.GetFingerprintSha256())
	}
	if len(p.GetIssuerSha256()) > 0 {
		r.Issuer = hex.EncodeToString(p.GetIssuerSha256())
		r.Serial = hex.EncodeToString(p.GetSerial())
	}
	if ns := p.GetRevokedUnixNano(); ns != 0 {
		t := time.Unix(0, ns).UTC()
		r.Revoked = &t
	}
	if ns := p.GetNotAfterUnixNano(); ns != 0 {
		t := time.Unix(0, ns).UTC()
		r.NotAfter = &t
	}
	return r
}

// name is how the table shows which certificate an entry names.
func (r revokedJSON) name() string {
	if r.Fingerprint != "" {
		return "sha256:" + r.Fingerprint
	}
	return "issuer sha256:" + r.Issuer[:min(16, len(r.Issuer))] + "… serial " + r.Serial
}

type revokeResult struct {
	Entry revokedJSON `json:"entry"`
	Added bool        `json:"added"`
}

func (r revokeResult) writeText(w io.Writer) error {
	if !r.Added {
		_, err := fmt.Fprintf(w, "%s was revoked already\n", r.Entry.name())
		return err
	}
	_, err := fmt.Fprintf(w, "revoked %s: every node refuses it and closes its open connections\n", r.Entry.name())
	return err
}

func newPKIRevokeCmd(ad *adminCLI) *cobra.Command {
	var certFile, serial, issuerFile, fingerprint, reason string
	cmd := &cobra.Command{
		Use:   "revoke (--cert FILE | --serial N --issuer CA.pem | --fingerprint HEX) [--reason TEXT]",
		Short: "Revoke a certificate on every node of the cluster",
		Long: "Revoke a certificate: by the certificate itself (--cert, PEM), by its issuing CA and serial number\n" +
			"(--serial and --issuer, as a CRL names it), or by its SHA-256 fingerprint (--fingerprint, hex; colons\n" +
			"allowed). Every node refuses it at its TLS handshakes and closes its open connections within seconds.\n" +
			"A revoked node certificate cuts that node off: issue the node a new certificate and restart it, or\n" +
			"remove it with `kmsctl cluster remove`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &adminpb.RevokeCertificateRequest{Reason: reason}
			forms := 0
			if certFile != "" {
				forms++
				b, err := readLimited(certFile, maxPEMFile)
				if err != nil {
					return fmt.Errorf("--cert: %w", err)
				}
				req.Certificate = &adminpb.RevokeCertificateRequest_CertificatePem{CertificatePem: b}
			}
			if fingerprint != "" {
				forms++
				b, err := parseHexBytes(fingerprint)
				if err != nil || len(b) != 32 {
					return fmt.Errorf("invalid --fingerprint %q: want the 64 hex digits of a SHA-256", fingerprint)
				}
				req.Certificate = &adminpb.RevokeCertificateRequest_FingerprintSha256{FingerprintSha256: b}
			}
			if serial != "" || issuerFile != "" {
				forms++
				if serial == "" || issuerFile == "" {
					return errors.New("--serial and --issuer go together")
				}
				s, err := parseSerial(serial)
				if err != nil {
					return err
				}
				b, err := readLimited(issuerFile, maxPEMFile)
				if err != nil {
					return fmt.Errorf("--issuer: %w", err)
				}
				req.Certificate = &adminpb.RevokeCertificateRequest_IssuerSerial{IssuerSerial: &adminpb.IssuerSerial{IssuerPem: b, Serial: s}}
			}
			if forms != 1 {
				return errors.New("name the certificate one way: --cert FILE, --serial N with --issuer CA.pem, or --fingerprint HEX")
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.RevokeCertificate(ctx, req)
				if err != nil {
					return pkiErr(err, c.addr)
				}
				return ad.emit(revokeResult{Entry: revokedOf(resp.GetEntry()), Added: resp.GetAdded()})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&certFile, "cert", "", "the certificate to revoke (PEM)")
	f.StringVar(&serial, "serial", "", "serial number of the certificate to revoke (decimal, 0x-hex or colon-separated hex), with --issuer")
	f.StringVar(&issuerFile, "issuer", "", "the CA certificate that issued it (PEM), with --serial")
	f.StringVar(&fingerprint, "fingerprint", "", "SHA-256 fingerprint of the certificate to revoke (hex)")
	f.StringVar(&reason, "reason", "", "why, for the list (at most 256 bytes)")
	return cmd
}

type revokedList struct {
	Entries []revokedJSON `json:"entries"`
}

func (r revokedList) writeText(w io.Writer) error {
	rows := make([][]string, len(r.Entries))
	for i, e := range r.Entries {
		at, until := "", ""
		if e.Revoked != nil {
			at = e.Revoked.Format(time.RFC3339)
		}
		if e.NotAfter != nil {
			until = e.NotAfter.Format(time.RFC3339)
		}
		rows[i] = []string{e.name(), e.Reason, at, e.RevokedBy, until}
	}
	return writeTable(w, []string{"CERTIFICATE", "REASON", "REVOKED", "BY", "EXPIRES"}, rows)
}

func newPKIRevokedCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "revoked",
		Short: "List the revoked certificates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				r := revokedList{Entries: []revokedJSON{}}
				for {
					resp, err := c.client.ListRevokedCertificates(ctx, &adminpb.ListRevokedCertificatesRequest{Offset: int64(len(r.Entries)), Limit: listPage})
					if err != nil {
						return pkiErr(err, c.addr)
					}
					for _, e := range resp.GetEntries() {
						r.Entries = append(r.Entries, revokedOf(e))
					}
					if len(resp.GetEntries()) == 0 || int64(len(r.Entries)) >= resp.GetTotal() {
						break
					}
				}
				return ad.emit(r)
			})
		},
	}
}

type crlResult struct {
	Listed int64  `json:"listed"`
	Added  int64  `json:"added"`
	Issuer string `json:"issuer_sha256,omitempty"`
}

func (r crlResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "CRL imported: %d certificates listed, %d newly revoked\n", r.Listed, r.Added)
	return err
}

func newCRLImportCmd(ad *adminCLI) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Revoke every certificate a CRL lists (PEM or DER)",
		Long: "Revoke every certificate a CRL lists, in one step. The CRL (PEM or DER, at most 4 MiB and 10,000\n" +
			"entries) must be signed by a CA the cluster trusts for KMIP clients, operators or nodes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readLimited(args[0], maxCRLFile)
			if err != nil {
				return err
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.ImportCRL(ctx, &adminpb.ImportCRLRequest{Crl: b, Reason: reason})
				if err != nil {
					return pkiErr(err, c.addr)
				}
				r := crlResult{Listed: resp.GetListed(), Added: resp.GetAdded()}
				if len(resp.GetIssuerSha256()) > 0 {
					r.Issuer = hex.EncodeToString(resp.GetIssuerSha256())
				}
				return ad.emit(r)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "reason of the entries whose CRL entry gives none (at most 256 bytes)")
	return cmd
}
