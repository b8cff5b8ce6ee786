package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// startPolicyAdmin serves an admin API with an access policy and tenant
// usage over a real state machine, with dev certificates; it returns the
// policy, the dev PKI and kmsctl's connection flags.
func startPolicyAdmin(t *testing.T) (*admintest.AccessPolicy, devpki.Paths, []string) {
	t.Helper()
	devDir := t.TempDir()
	ap := admintest.NewAccessPolicy()
	addr := serveAdminWith(t, devDir, admintest.NewFakeCluster(), admintest.Options{AccessPolicy: ap, Usage: ap})
	return ap, devpki.PathsIn(filepath.Join(devDir, "pki")), []string{"--admin", addr, "--dev-dir", devDir}
}

func TestPolicyCommands(t *testing.T) {
	clearAdminEnv(t)
	ap, p, conn := startPolicyAdmin(t)
	if out := ok(t, conn, "policy", "list"); !strings.Contains(out, "no policy entries") {
		t.Errorf("empty list: %q", out)
	}

	// A file with a binding (its CA given as a file next to it) and a role.
	dir := t.TempDir()
	caPEM, err := os.ReadFile(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clients-ca.pem"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(file, []byte(`[
	  {"name": "vsphere-hosts", "binding": {"identities": [{"ca_file": "clients-ca.pem", "dns": "*.vsphere.example.com"}], "tenant": "vsphere", "role": "host"}},
	  {"name": "host", "role": {"operations": ["Get", "Locate"], "object_types": ["SymmetricKey"]}}
	]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, conn, "policy", "set", file); out != "policy entries set: vsphere-hosts, host\n" {
		t.Errorf("set: %q", out)
	}
	caCert, err := firstCertificate(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := ap.FSM.Policy()
	if err != nil {
		t.Fatal(err)
	}
	got := pol.Resolve(policy.Identity{CA: policy.Fingerprint(caCert), CommonName: "esx1", DNS: []string{"esx1.vsphere.example.com"}})
	if got.Tenant != "vsphere" || got.Role.Name != "host" {
		t.Fatalf("the file's binding resolves to %+v", got)
	}

	// Flags give one binding.
	ok(t, conn, "policy", "set", "--name", "backup", "--tenant", "vsphere", "--role", "read-only", "--ca-fingerprint", "*", "--cn", "veeam-*")
	out := ok(t, conn, "policy", "list")
	for _, want := range []string{"vsphere-hosts  binding  vsphere", "dns=*.vsphere.example.com @", "host           role", "Get,Locate on SymmetricKey", "backup         binding  vsphere  read-only  cn=veeam-* @*"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	entries := decodeJSON[[]map[string]any](t, ok(t, conn, "-o", "json", "policy", "get", "backup"))
	if len(entries) != 1 || entries[0]["name"] != "backup" || entries[0]["binding"].(map[string]any)["role"] != "read-only" {
		t.Errorf("get json: %v", entries)
	}

	// What the server refuses, with what to fix.
	fails(t, conn, `names role "ghost"`, "policy", "set", "--name", "x", "--tenant", "t", "--role", "ghost", "--ca-fingerprint", "*", "--cn", "a")
	fails(t, conn, `names role "host"`, "policy", "delete", "host")
	fails(t, conn, `no policy entry "nope"`, "policy", "get", "nope")
	fails(t, conn, "give a policy FILE", "policy", "set")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"name": "x", "binding": {"identities": [{"ca": "*", "cn": "a"}], "tenant": "t", "role": "user"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(t, conn, `unknown field "cn"`, "policy", "set", bad)

	// A password in a file reaches the server only as an Argon2id hash.
	withCred := filepath.Join(dir, "cred.json")
	if err := os.WriteFile(withCred, []byte(`{"name": "apps", "binding": {"identities": [{"ca": "*", "common_name": "app"}], "tenant": "apps", "role": "user",
	  "credentials": [{"username": "Fred", "password": "password1"}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ok(t, conn, "policy", "set", withCred)
	stored := ok(t, conn, "-o", "json", "policy", "get", "apps")
	if strings.Contains(stored, "password1") || strings.Contains(stored, "argon2id$") || !strings.Contains(stored, "(redacted)") {
		t.Errorf("policy get shows: %s", stored)
	}
	if e, _ := ap.FSM.PolicyEntries(); !strings.HasPrefix(e[0].GetBinding().GetCredentials()[0].GetPasswordArgon2Id(), "$argon2id$v=19$") {
		t.Errorf("stored credential: %v", e[0])
	}
	ok(t, conn, "policy", "delete", "apps")

	// resolve: a certificate of the client CA, named by DNS.
	leafFile := filepath.Join(dir, "esx2.pem")
	issueClientCert(t, p, "esx2", []string{"esx2.vsphere.example.com"}, leafFile)
	if out := ok(t, conn, "policy", "resolve", leafFile, "--issuer", p.CACert); !strings.Contains(out, "tenant:   vsphere") || !strings.Contains(out, "binding:  vsphere-hosts") {
		t.Errorf("resolve: %q", out)
	}

	ok(t, conn, "policy", "delete", "vsphere-hosts")
	ok(t, conn, "policy", "delete", "host")
	if out := ok(t, conn, "policy", "list"); strings.Contains(out, "vsphere-hosts") {
		t.Errorf("deleted entry listed: %q", out)
	}
}

// issueClientCert writes to file a certificate of the dev client CA with
// Common Name cn and the given DNS names.
func issueClientCert(t *testing.T, p devpki.Paths, cn string, dns []string, file string) {
	t.Helper()
	ca, err := devpki.LoadAuthority(p.CACert, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(cn, nil, dns...)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyUsageCommand(t *testing.T) {
	clearAdminEnv(t)
	ap, _, conn := startPolicyAdmin(t)
	if out := ok(t, conn, "policy", "usage"); !strings.Contains(out, "no tenant holds objects") {
		t.Errorf("empty usage: %q", out)
	}
	for i := range 2 {
		if err := ap.CreateKey("vsphere", fmt.Sprintf("k%d", i), make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ap.SetPolicy(t.Context(), []*kmsdpb.PolicyEntry{
		{Name: "vsphere", Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: 100}}},
		{Name: "*", Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxBytes: 4096}}},
	}, "test"); err != nil {
		t.Fatal(err)
	}
	bytes := ap.FSM.TenantUsage("vsphere").Bytes

	for _, tt := range []struct {
		args []string
		row  string
	}{
		{nil, fmt.Sprintf("vsphere 2 100 %d unlimited", bytes)},
		{[]string{"vsphere"}, fmt.Sprintf("vsphere 2 100 %d unlimited", bytes)},
		{[]string{"apps"}, "apps 0 unlimited 0 4096"},
	} {
		out := ok(t, conn, append([]string{"policy", "usage"}, tt.args...)...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "TENANT OBJECTS OBJECT QUOTA BYTES BYTE QUOTA" ||
			strings.Join(strings.Fields(lines[1]), " ") != tt.row {
			t.Errorf("usage %v:\n%s\nwant the row %q", tt.args, out, tt.row)
		}
	}
	rows := decodeJSON[[]map[string]any](t, ok(t, conn, "-o", "json", "policy", "usage", "vsphere"))
	if len(rows) != 1 || rows[0]["tenant"] != "vsphere" || rows[0]["objects"] != 2.0 || rows[0]["bytes"] != float64(bytes) ||
		rows[0]["max_objects"] != 100.0 || rows[0]["max_bytes"] != 0.0 || rows[0]["quota_entry"] != "vsphere" {
		t.Errorf("usage json: %v", rows)
	}
	fails(t, conn, "at most 1024 bytes", "policy", "usage", strings.Repeat("t", 1025))
	fails(t, conn, "accepts at most 1 arg", "policy", "usage", "a", "b")
}

func TestPolicyTenantEntries(t *testing.T) {
	clearAdminEnv(t)
	ap, _, conn := startPolicyAdmin(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "quotas.json")
	if err := os.WriteFile(file, []byte(`[{"name": "vsphere", "tenant": {"max_objects": 100000, "max_bytes": 1073741824}},
	  {"name": "*", "tenant": {"max_objects": 1000000}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, conn, "policy", "set", file); out != "policy entries set: vsphere, *\n" {
		t.Errorf("set: %q", out)
	}
	if out := ok(t, conn, "policy", "set", "--tenant-quota", "apps", "--max-bytes", "4096"); out != "policy entries set: apps\n" {
		t.Errorf("set from flags: %q", out)
	}
	pol, err := ap.FSM.Policy()
	if err != nil {
		t.Fatal(err)
	}
	for tenant, want := range map[string]policy.Quota{
		"vsphere": {MaxObjects: 100000, MaxBytes: 1 << 30, Entry: "vsphere"},
		"apps":    {MaxBytes: 4096, Entry: "apps"},
		"other":   {MaxObjects: 1000000, Entry: "*"},
	} {
		if got := pol.Quota(tenant); got != want {
			t.Errorf("quota of %s: %+v, want %+v", tenant, got, want)
		}
	}

	out := ok(t, conn, "policy", "list")
	for _, want := range []string{
		"vsphere  tenant  vsphere      -     max_objects=100000 max_bytes=1073741824",
		"*        tenant  (any other)  -     max_objects=1000000 max_bytes=unlimited",
		"apps     tenant  apps         -     max_objects=unlimited max_bytes=4096",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "binding") {
		t.Errorf("list shows a tenant entry as a binding:\n%s", out)
	}
	if out := ok(t, conn, "policy", "get", "*"); !strings.Contains(out, "*     tenant  (any other)  -     max_objects=1000000 max_bytes=unlimited") {
		t.Errorf("get *:\n%s", out)
	}

	// In JSON, the entry as a policy file writes it, limits as numbers;
	// and what get writes, set reads back.
	got := ok(t, conn, "-o", "json", "policy", "get", "vsphere")
	entries := decodeJSON[[]map[string]any](t, got)
	if len(entries) != 1 || entries[0]["name"] != "vsphere" || entries[0]["binding"] != nil ||
		!reflect.DeepEqual(entries[0]["tenant"], map[string]any{"max_objects": 100000.0, "max_bytes": 1073741824.0}) {
		t.Errorf("get json: %s", got)
	}
	listed := decodeJSON[[]map[string]any](t, ok(t, conn, "-o", "json", "policy", "list"))
	if len(listed) != 3 {
		t.Errorf("list json: %v", listed)
	}
	for _, e := range listed {
		if e["name"] == "apps" && !reflect.DeepEqual(e["tenant"], map[string]any{"max_objects": 0.0, "max_bytes": 4096.0}) {
			t.Errorf("list json, apps: %v", e)
		}
	}
	again := filepath.Join(dir, "again.json")
	if err := os.WriteFile(again, []byte(got), 0o600); err != nil {
		t.Fatal(err)
	}
	ok(t, conn, "policy", "set", again)

	// Refused before anything is sent, with what to fix.
	for _, tt := range []struct {
		file, want string
	}{
		{`{"name": "acme", "tenant": {"max_objects": -1}}`, `"max_objects" is -1: give a whole number from 0 (no limit) to 9007199254740992`},
		{`{"name": "acme", "tenant": {"max_bytes": 1.5}}`, `"max_bytes" is 1.5: give a whole number`},
		{`{"name": "acme", "tenant": {"max_bytes": 9007199254740993}}`, `"max_bytes" is 9007199254740993: give a whole number`},
		{`{"name": "acme", "tenant": {"max_bytes": "lots"}}`, `"max_bytes" is lots: give a whole number`},
		{`{"name": "acme", "tenant": {"max_files": 3}}`, `unknown field "max_files"`},
		{`{"tenant": "acme", "max_objects": 1000}`, `"max_objects" belongs inside "tenant": a tenant entry is {"name": "acme", "tenant": {"max_objects": 1000, "max_bytes": 1048576}}`},
		{`{"name": "acme", "tenant": "acme"}`, `"tenant" holds the limits, named by the entry's "name"`},
		{`{"name": "` + strings.Repeat("t", 65) + `", "tenant": {}}`, `1 to 64 characters of A-Z`},
		{`{"name": "default", "tenant": {"max_objects": 5}}`, `the quota of tenants without an entry of their own is the tenant entry "*"`},
		{`{"name": "acme"}`, `neither a binding, a role nor a tenant entry: give it "binding", "role" or "tenant"`},
	} {
		bad := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(bad, []byte(tt.file), 0o600); err != nil {
			t.Fatal(err)
		}
		fails(t, conn, tt.want, "policy", "set", bad)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tenant-quota", "acme", "--max-objects", "-1"}, `invalid argument "-1" for "--max-objects" flag: give a whole number from 0 (no limit)`},
		{[]string{"--tenant-quota", "acme", "--max-bytes", "1e6"}, `for "--max-bytes" flag: give a whole number`},
		{[]string{"--tenant-quota", "acme", "--max-bytes", "9007199254740993"}, `give a whole number from 0 (no limit) to 9007199254740992`},
		{[]string{"--max-objects", "5"}, "name the tenant with --tenant-quota TENANT"},
		{[]string{"--tenant-quota", "a:b", "--max-objects", "5"}, `--tenant-quota: tenant entry: tenant "a:b": 1 to 64 characters`},
		{[]string{"--tenant-quota", "", "--max-objects", "5"}, `--tenant-quota: tenant entry: tenant "": 1 to 64 characters`},
		{[]string{"--tenant-quota", "acme", "--role", "user"}, "give binding flags (--name, --tenant, --role, identities) or tenant quota flags"},
		{[]string{"--tenant-quota", "acme", file}, "give a FILE or flags, not both"},
	} {
		fails(t, conn, tt.want, append([]string{"policy", "set"}, tt.args...)...)
	}
	if e, _ := ap.FSM.PolicyEntries(); len(e) != 3 {
		t.Errorf("refused changes left %d entries: %v", len(e), e)
	}

	// Deleted, a tenant falls back to "*", then to no quota.
	ok(t, conn, "policy", "delete", "vsphere")
	ok(t, conn, "policy", "delete", "*")
	if out := ok(t, conn, "policy", "usage", "vsphere"); !strings.Contains(out, "vsphere  0        unlimited     0      unlimited") {
		t.Errorf("usage after delete:\n%s", out)
	}
	ok(t, conn, "policy", "delete", "apps")
	fails(t, conn, `no policy entry "apps"`, "policy", "get", "apps")
	if out := ok(t, conn, "policy", "list"); !strings.Contains(out, "no policy entries") {
		t.Errorf("list after delete: %q", out)
	}
}
