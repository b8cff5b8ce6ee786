package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// issueFlags are the common flags of issue and sign.
type issueFlags struct {
	tenant, role, cn, binding string
	dns                       []string
	validity                  time.Duration
}

func (f *issueFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "tenant the certificate's client acts in (required)")
	fl.StringVar(&f.role, "role", "", "admin, user, read-only, wrap-only, or a custom role (required)")
	fl.StringVar(&f.cn, "cn", "", "Common Name")
	fl.StringSliceVar(&f.dns, "dns", nil, "DNS subject alternative names")
	fl.DurationVar(&f.validity, "validity", 0, "how long the certificate is valid (default 8760h, at most 43800h)")
	fl.StringVar(&f.binding, "binding", "", `name of the policy binding (default "pki-<cn>")`)
}

func (f *issueFlags) request() (*adminpb.IssueCertificateRequest, error) {
	if f.tenant == "" || f.role == "" {
		return nil, errors.New("--tenant and --role are required")
	}
	return &adminpb.IssueCertificateRequest{Tenant: f.tenant, Role: f.role, CommonName: f.cn, DnsNames: f.dns,
		ValidityNanos: int64(f.validity), Binding: f.binding}, nil
}

type issueResult struct {
	Certificate string `json:"certificate"`
	Key         string `json:"key,omitempty"`
	Serial      string `json:"serial"`
	CommonName  string `json:"common_name"`
	Tenant      string `json:"tenant"`
	Role        string `json:"role"`
	Binding     string `json:"binding"`
	NotAfter    string `json:"not_after"`
}

func (r issueResult) writeText(w io.Writer) error {
	pairs := [][2]string{{"certificate", r.Certificate}}
	if r.Key != "" {
		pairs = append(pairs, [2]string{"key", r.Key})
	}
	pairs = append(pairs, [2]string{"serial", r.Serial}, [2]string{"common name", r.CommonName}, [2]string{"tenant", r.Tenant},
		[2]string{"role", r.Role}, [2]string{"binding", r.Binding}, [2]string{"valid until", r.NotAfter})
	return writeKV(w, pairs...)
}

func resultOf(rec *kmsdpb.IssuedCertificate, certFile, keyFile string) issueResult {
	return issueResult{Certificate: certFile, Key: keyFile, Serial: rec.GetSerial(), CommonName: rec.GetCommonName(), Tenant: rec.GetTenant(),
		Role: rec.GetRole(), Binding: rec.GetBinding(), NotAfter: time.Unix(0, rec.GetNotAfterUnixNano()).UTC().Format(time.RFC3339)}
}

func newPKIIssueCmd(ad *adminCLI) *cobra.Command {
	var f issueFlags
	var out string
	cmd := &cobra.Command{
		Use:   "issue --tenant T --role R --cn NAME --out DIR",
		Short: "Issue a client certificate with a new key: DIR/NAME.pem (with the CA chain) and DIR/NAME.key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			if f.cn == "" || out == "" {
				return errors.New("--cn and --out are required")
			}
			certFile, keyFile := filepath.Join(out, f.cn+".pem"), filepath.Join(out, f.cn+".key")
			if err := refuseExisting(certFile, keyFile); err != nil {
				return err
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.IssueCertificate(ctx, req)
				if err != nil {
					return policyErr(err, c.addr)
				}
				if err := os.MkdirAll(out, 0o700); err != nil {
					return err
				}
				if err := os.WriteFile(keyFile, resp.GetKeyPem(), 0o600); err != nil {
					return err
				}
				if err := os.WriteFile(certFile, resp.GetCertificatePem(), 0o644); err != nil {
					return err
				}
				return ad.emit(resultOf(resp.GetRecord(), certFile, keyFile))
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "folder for NAME.pem and NAME.key (required)")
	return cmd
}

func newPKISignCmd(ad *adminCLI) *cobra.Command {
	var f issueFlags
	var csrFile, out string
	cmd := &cobra.Command{
		Use:   "sign --csr FILE --tenant T --role R [--out FILE]",
		Short: "Sign a certificate request (vSphere, ONTAP and others make their own key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			if csrFile == "" {
				return errors.New("--csr is required")
			}
			if req.CsrPem, err = os.ReadFile(csrFile); err != nil {
				return err
			}
			if out != "" {
				if err := refuseExisting(out); err != nil {
					return err
				}
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.IssueCertificate(ctx, req)
				if err != nil {
					return policyErr(err, c.addr)
				}
				if out == "" {
					_, err := cmd.OutOrStdout().Write(resp.GetCertificatePem())
					return err
				}
				if err := os.WriteFile(out, resp.GetCertificatePem(), 0o644); err != nil {
					return err
				}
				return ad.emit(resultOf(resp.GetRecord(), out, ""))
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&csrFile, "csr", "", "PEM certificate request (required)")
	cmd.Flags().StringVar(&out, "out", "", "file for the certificate and CA chain (default: standard output)")
	return cmd
}

// refuseExisting keeps issue and sign from overwriting a key or
// certificate.
func refuseExisting(files ...string) error {
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s exists; remove it or choose another --out", f)
		}
	}
	return nil
}

type certList struct {
	Authority        string         `json:"authority"`
	AuthoritySubject string         `json:"authority_subject"`
	Certificates     []issueSummary `json:"certificates"`
}

type issueSummary struct {
	Serial     string `json:"serial"`
	CommonName string `json:"common_name"`
	Tenant     string `json:"tenant"`
	Role       string `json:"role"`
	NotAfter   string `json:"not_after"`
	IssuedBy   string `json:"issued_by"`
}

func (l certList) writeText(w io.Writer) error {
	if l.Authority == "" {
		_, err := fmt.Fprintln(w, "the cluster has no certificate authority; set one with `kmsctl pki ca set --ca-cert CA.pem --ca-key CA.key`")
		return err
	}
	if _, err := fmt.Fprintf(w, "issuing CA: %s (SHA-256 %s)\n", l.AuthoritySubject, l.Authority); err != nil {
		return err
	}
	rows := make([][]string, 0, len(l.Certificates))
	for _, c := range l.Certificates {
		rows = append(rows, []string{c.Serial, c.CommonName, c.Tenant, c.Role, c.NotAfter, c.IssuedBy})
	}
	return writeTable(w, []string{"SERIAL", "COMMON NAME", "TENANT", "ROLE", "VALID UNTIL", "ISSUED BY"}, rows)
}

func newPKIListCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the certificates the cluster issued",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.ListCertificates(ctx, &adminpb.ListCertificatesRequest{})
				if err != nil {
					return policyErr(err, c.addr)
				}
				l := certList{Authority: resp.GetAuthorityFingerprint(), AuthoritySubject: resp.GetAuthoritySubject(), Certificates: []issueSummary{}}
				for _, r := range resp.GetCertificates() {
					l.Certificates = append(l.Certificates, issueSummary{Serial: r.GetSerial(), CommonName: r.GetCommonName(), Tenant: r.GetTenant(),
						Role: r.GetRole(), NotAfter: time.Unix(0, r.GetNotAfterUnixNano()).UTC().Format(time.RFC3339), IssuedBy: r.GetIssuedBy()})
				}
				return ad.emit(l)
			})
		},
	}
}

func newPKICACmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "The CA with which the cluster issues client certificates"}
	var certFile, keyFile string
	set := &cobra.Command{
		Use:   "set --ca-cert CA.pem --ca-key CA.key",
		Short: "Give the cluster its issuing CA: a CA or intermediate that the nodes' client CA bundle trusts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if certFile == "" || keyFile == "" {
				return errors.New("--ca-cert and --ca-key name the CA's PEM certificate (with its chain) and key")
			}
			certPEM, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			keyPEM, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			defer clear(keyPEM)
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.SetCertificateAuthority(ctx, &adminpb.SetCertificateAuthorityRequest{CertificatePem: certPEM, KeyPem: keyPEM})
				if err != nil {
					return policyErr(err, c.addr)
				}
				return ad.emit(caSetResult{Fingerprint: resp.GetFingerprint(), Subject: resp.GetSubject(),
					NotAfter: time.Unix(0, resp.GetNotAfterUnixNano()).UTC().Format(time.RFC3339)})
			})
		},
	}
	// --cert and --key are kmsctl's own connection flags: the CA's files
	// take their own names.
	set.Flags().StringVar(&certFile, "ca-cert", "", "PEM file of the CA certificate and its chain")
	set.Flags().StringVar(&keyFile, "ca-key", "", "PEM file of the CA's private key")
	cmd.AddCommand(set)
	return cmd
}

type caSetResult struct {
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject"`
	NotAfter    string `json:"not_after"`
}

func (r caSetResult) writeText(w io.Writer) error {
	return writeKV(w, [2]string{"issuing CA", r.Subject}, [2]string{"SHA-256", r.Fingerprint}, [2]string{"valid until", r.NotAfter})
}
