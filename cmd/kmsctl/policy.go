package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func newPolicyCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Who may use the KMIP port: bindings of client certificates to tenants and roles, custom roles, and tenants' quotas",
		Long: `The access policy maps client identities to a tenant and a role.

An identity is the CA that issued a client certificate plus the names the
certificate carries. A binding names identities (the CA's SHA-256 fingerprint
or "*", and a Common Name, DNS, e-mail or URI name, exact or with '*'), the
tenant they act in and their role. Built-in roles: admin, user, read-only,
wrap-only, none; custom roles list operations and object types.

An identity no binding names gets the binding called "default" if there is
one, otherwise a tenant of its own and the role user.

A tenant entry, named after a tenant, bounds how many objects the tenant
holds and how many bytes they take; the tenant entry "*" bounds every
tenant without one.`,
	}
	cmd.AddCommand(newPolicyListCmd(ad), newPolicyGetCmd(ad), newPolicySetCmd(ad), newPolicyDeleteCmd(ad), newPolicyResolveCmd(ad), newPolicyUsageCmd(ad))
	return cmd
}

// policyErr is adminErr with the policy's own answers, which say what to
// fix.
func policyErr(err error, addr string) error {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument, codes.FailedPrecondition, codes.NotFound, codes.Aborted:
			return errors.New(st.Message())
		case codes.Unimplemented:
			return fmt.Errorf("the node at %s: %s", addr, st.Message())
		}
	}
	return adminErr(err, addr, "")
}

// policyEntries is what list and get print: a table, or in JSON the
// entries as policy files write them.
type policyEntries []*kmsdpb.PolicyEntry

var entryJSON = protojson.MarshalOptions{UseProtoNames: true}

func (p policyEntries) MarshalJSON() ([]byte, error) {
	parts := make([]json.RawMessage, 0, len(p))
	for _, e := range p {
		b, err := marshalEntry(e)
		if err != nil {
			return nil, err
		}
		parts = append(parts, b)
	}
	return json.Marshal(parts)
}

func (p policyEntries) writeText(w io.Writer) error {
	if len(p) == 0 {
		_, err := fmt.Fprintln(w, "no policy entries: every client certificate is a tenant of its own with the role user")
		return err
	}
	rows := make([][]string, 0, len(p))
	for _, e := range p {
		updated := "-"
		if t := e.GetUpdatedUnixNano(); t != 0 {
			updated = time.Unix(0, t).UTC().Format(time.RFC3339)
		}
		if r := e.GetRole(); r != nil {
			types := strings.Join(r.GetObjectTypes(), ",")
			if types == "" {
				types = "all types"
			}
			rows = append(rows, []string{e.GetName(), "role", "-", "-", strings.Join(r.GetOperations(), ",") + " on " + types, updated})
			continue
		}
		if e.GetTenant() != nil {
			rows = append(rows, tenantRow(e, updated))
			continue
		}
		b := e.GetBinding()
		tenant := b.GetTenant()
		if tenant == "" {
			tenant = "(own)"
		}
		ids := make([]string, 0, len(b.GetIdentities()))
		for _, m := range b.GetIdentities() {
			ids = append(ids, matchText(m))
		}
		if len(ids) == 0 {
			ids = append(ids, "every other identity")
		}
		rows = append(rows, []string{e.GetName(), "binding", tenant, b.GetRole(), strings.Join(ids, "; "), updated})
	}
	return writeTable(w, []string{"NAME", "KIND", "TENANT", "ROLE", "IDENTITIES / OPERATIONS / QUOTA", "UPDATED"}, rows)
}

// matchText shows an identity match as "cn=esx* dns=... @ca".
func matchText(m *kmsdpb.IdentityMatch) string {
	var parts []string
	for _, f := range [][2]string{{"cn", m.GetCommonName()}, {"dns", m.GetDns()}, {"email", m.GetEmail()}, {"uri", m.GetUri()}} {
		if f[1] != "" {
			parts = append(parts, f[0]+"="+f[1])
		}
	}
	ca := m.GetCa()
	if len(ca) > 16 {
		ca = ca[:16] + "…"
	}
	return strings.Join(parts, " ") + " @" + ca
}

func newPolicyListCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the policy's bindings, custom roles and tenant entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.ListPolicy(ctx, &adminpb.ListPolicyRequest{})
				if err != nil {
					return policyErr(err, c.addr)
				}
				return ad.emit(policyEntries(resp.GetEntries()))
			})
		},
	}
}

func newPolicyGetCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Show one policy entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.GetPolicy(ctx, &adminpb.GetPolicyRequest{Name: args[0]})
				if err != nil {
					return policyErr(err, c.addr)
				}
				return ad.emit(policyEntries{resp.GetEntry()})
			})
		},
	}
}

// bindingFlags build one binding from the command line.
type bindingFlags struct {
	name, tenant, role  string
	ca, caFile          string
	cn, dns, email, uri string
}

func (f *bindingFlags) set() bool {
	return f.name != "" || f.tenant != "" || f.role != "" || f.ca != "" || f.caFile != "" || f.cn != "" || f.dns != "" || f.email != "" || f.uri != ""
}

func (f *bindingFlags) entry() (*kmsdpb.PolicyEntry, error) {
	if f.name == "" || f.role == "" {
		return nil, errors.New("a binding needs --name and --role (and --tenant, except for the default binding)")
	}
	m := &kmsdpb.IdentityMatch{Ca: f.ca, CommonName: f.cn, Dns: f.dns, Email: f.email, Uri: f.uri}
	if f.caFile != "" {
		if f.ca != "" {
			return nil, errors.New("give --ca-fingerprint or --ca-file, not both")
		}
		fp, err := fingerprintFile(f.caFile)
		if err != nil {
			return nil, err
		}
		m.Ca = fp
	}
	b := &kmsdpb.PolicyBinding{Tenant: f.tenant, Role: f.role}
	if f.name != policy.DefaultEntry || m.GetCa() != "" || m.GetCommonName() != "" || m.GetDns() != "" || m.GetEmail() != "" || m.GetUri() != "" {
		b.Identities = []*kmsdpb.IdentityMatch{m}
	}
	return &kmsdpb.PolicyEntry{Name: f.name, Entry: &kmsdpb.PolicyEntry_Binding{Binding: b}}, nil
}

func newPolicySetCmd(ad *adminCLI) *cobra.Command {
	var (
		bf bindingFlags
		qf quotaFlags
	)
	cmd := &cobra.Command{
		Use:   "set [FILE]",
		Short: "Add or replace policy entries, from a JSON file or from flags",
		Long: `Add or replace policy entries. FILE holds one entry or a JSON array of
entries ("-" reads standard input), all applied together; for example:

  [{"name": "vsphere-hosts",
    "binding": {"identities": [{"ca_file": "clients-ca.pem", "dns": "*.vsphere.example.com"}],
                "tenant": "vsphere", "role": "user"}},
   {"name": "backup-reader",
    "role": {"operations": ["Get", "Locate", "GetAttributes"], "object_types": ["SymmetricKey"]}},
   {"name": "vsphere", "tenant": {"max_objects": 100000, "max_bytes": 1073741824}},
   {"name": "*", "tenant": {"max_objects": 1000}}]

"ca" is the issuing CA's SHA-256 fingerprint (hex) or "*" for any client CA;
"ca_file" names a PEM file (relative to FILE) whose first certificate is the CA.
A binding may also require a KMIP Credential in the request header, as a
second factor next to the certificate; kmsctl sends only an Argon2id hash:

  "credentials": [{"username": "Fred", "password": "..."},
                  {"device_identifier": "devID2233", "password": "..."}]

A tenant entry is named after the tenant whose objects it bounds, or "*"
for every tenant without an entry of its own; "max_objects" and "max_bytes"
(sealed material plus attributes) are whole numbers, 0 or absent for no
limit.

Without FILE the flags give one binding:

  kmsctl policy set --name vsphere-hosts --tenant vsphere --role user \
    --ca-file clients-ca.pem --dns '*.vsphere.example.com'

or one tenant entry:

  kmsctl policy set --tenant-quota vsphere --max-objects 100000 --max-bytes 1073741824`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			qf.tenantSet, qf.maxObjSet, qf.maxByteSet = fl.Changed("tenant-quota"), fl.Changed("max-objects"), fl.Changed("max-bytes")
			var entries []*kmsdpb.PolicyEntry
			switch {
			case len(args) == 1 && (bf.set() || qf.set()):
				return errors.New("give a FILE or flags, not both")
			case bf.set() && qf.set():
				return errors.New("give binding flags (--name, --tenant, --role, identities) or tenant quota flags (--tenant-quota, --max-objects, --max-bytes), not both")
			case len(args) == 1:
				var err error
				if entries, err = readPolicyFile(cmd.InOrStdin(), args[0]); err != nil {
					return err
				}
			case bf.set():
				e, err := bf.entry()
				if err != nil {
					return err
				}
				entries = []*kmsdpb.PolicyEntry{e}
			case qf.set():
				e, err := qf.entry()
				if err != nil {
					return err
				}
				entries = []*kmsdpb.PolicyEntry{e}
			default:
				return errors.New("give a policy FILE, or --name, --tenant, --role and the identity flags, or --tenant-quota with --max-objects and --max-bytes (see --help)")
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.SetPolicy(ctx, &adminpb.SetPolicyRequest{Entries: entries}); err != nil {
					return policyErr(err, c.addr)
				}
				names := make([]string, 0, len(entries))
				for _, e := range entries {
					names = append(names, e.GetName())
				}
				return ad.emit(policySetResult{Set: names})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&bf.name, "name", "", "binding name")
	fl.StringVar(&bf.tenant, "tenant", "", "tenant the identities act in")
	fl.StringVar(&bf.role, "role", "", "admin, user, read-only, wrap-only, none, or a custom role's name")
	fl.StringVar(&bf.ca, "ca-fingerprint", "", `issuing CA's SHA-256 fingerprint (hex), or "*" for any client CA`)
	fl.StringVar(&bf.caFile, "ca-file", "", "PEM file of the issuing CA (instead of --ca-fingerprint)")
	fl.StringVar(&bf.cn, "cn", "", "Common Name, exact or with '*'")
	fl.StringVar(&bf.dns, "dns", "", "DNS subject alternative name, exact or with '*'")
	fl.StringVar(&bf.email, "email", "", "e-mail subject alternative name, exact or with '*'")
	fl.StringVar(&bf.uri, "uri", "", "URI subject alternative name, exact or with '*'")
	fl.StringVar(&qf.tenant, "tenant-quota", "", "set the quota of `TENANT` (\"*\" for every tenant without a quota of its own) instead of a binding")
	fl.Var(&qf.maxObjects, "max-objects", "with --tenant-quota: the most objects the tenant may hold (0: no limit)")
	fl.Var(&qf.maxBytes, "max-bytes", "with --tenant-quota: the most bytes its objects may take, sealed material plus attributes (0: no limit)")
	return cmd
}

type policySetResult struct {
	Set []string `json:"set"`
}

func (r policySetResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "policy entries set: %s\n", strings.Join(r.Set, ", "))
	return err
}

func newPolicyDeleteCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a policy entry (a role still named by a binding stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.DeletePolicy(ctx, &adminpb.DeletePolicyRequest{Name: args[0]}); err != nil {
					return policyErr(err, c.addr)
				}
				return ad.emit(policyDeleteResult{Deleted: args[0]})
			})
		},
	}
}

type policyDeleteResult struct {
	Deleted string `json:"deleted"`
}

func (r policyDeleteResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "policy entry %s deleted\n", r.Deleted)
	return err
}

func newPolicyResolveCmd(ad *adminCLI) *cobra.Command {
	var issuerFile string
	cmd := &cobra.Command{
		Use:   "resolve CERT --issuer CA",
		Short: "Show the identity, tenant and role the policy gives a client certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if issuerFile == "" {
				return errors.New("--issuer names the PEM file of the CA that issued the certificate")
			}
			leaf, err := firstCertificate(args[0])
			if err != nil {
				return err
			}
			issuer, err := firstCertificate(issuerFile)
			if err != nil {
				return err
			}
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.ResolveIdentity(ctx, &adminpb.ResolveIdentityRequest{Certificate: leaf.Raw, Issuer: issuer.Raw})
				if err != nil {
					return policyErr(err, c.addr)
				}
				return ad.emit(resolveResult{Identity: resp.GetIdentity(), Tenant: resp.GetTenant(), Role: resp.GetRole(), Binding: resp.GetBinding()})
			})
		},
	}
	cmd.Flags().StringVar(&issuerFile, "issuer", "", "PEM file of the issuing CA")
	return cmd
}

type resolveResult struct {
	Identity string `json:"identity"`
	Tenant   string `json:"tenant"`
	Role     string `json:"role"`
	Binding  string `json:"binding"`
}

func (r resolveResult) writeText(w io.Writer) error {
	binding := r.Binding
	if binding == "" {
		binding = "(none: built-in default)"
	}
	return writeKV(w, [2]string{"identity", r.Identity}, [2]string{"tenant", r.Tenant}, [2]string{"role", r.Role}, [2]string{"binding", binding})
}
