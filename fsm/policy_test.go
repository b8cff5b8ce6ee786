package fsm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

const testCA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func bindingOf(name, tenant, role, cn string) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{
		Identities: []*kmsdpb.IdentityMatch{{Ca: testCA, CommonName: cn}}, Tenant: tenant, Role: role}}}
}

func roleOf(name string, ops ...string) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Role{Role: &kmsdpb.PolicyRole{Operations: ops}}}
}

func (f *testFSM) resolve(t *testing.T, cn string) policy.Principal {
	t.Helper()
	p, err := f.Policy()
	if err != nil {
		t.Fatal(err)
	}
	return p.Resolve(policy.Identity{CA: testCA, CommonName: cn})
}

func TestPolicySetAndDelete(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	if got := f.resolve(t, "esx1"); got.Role.Name != policy.RoleUser || got.Binding != "" {
		t.Fatalf("empty policy resolves to %+v", got)
	}
	// A binding and the custom role it names, in one change.
	res := f.apply(must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{
		bindingOf("hosts", "vsphere", "host", "esx*"), roleOf("host", "Get", "Locate"),
	})))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	got := f.resolve(t, "esx1")
	if got.Tenant != "vsphere" || got.Role.Name != "host" || got.Binding != "hosts" {
		t.Fatalf("resolve after set = %+v", got)
	}
	entries, err := f.PolicyEntries()
	if err != nil || len(entries) != 2 || entries[0].GetName() != "host" || entries[1].GetUpdatedBy() != "operator" || entries[1].GetUpdatedUnixNano() != t0.UnixNano() {
		t.Fatalf("entries %v %v", entries, err)
	}

	// Refused changes leave the policy as it was.
	for _, c := range []struct {
		name  string
		entry []byte
		want  error
	}{
		{"binding to a missing role", must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{bindingOf("b", "t", "ghost", "x")})), ErrPolicyRefused},
		{"delete a role in use", must(f.EncodeDeletePolicyEntry(envAt(t0), "host")), ErrPolicyRefused},
		{"delete a missing entry", must(f.EncodeDeletePolicyEntry(envAt(t0), "nope")), ErrNoPolicyEntry},
		{"invalid tenant", must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{bindingOf("b", "no spaces", "user", "x")})), ErrPolicyRefused},
		{"empty change", must(f.EncodeSetPolicy(envAt(t0), nil)), ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := f.apply(c.entry).Err; !errors.Is(err, c.want) {
				t.Fatalf("apply = %v, want %v", err, c.want)
			}
			if got := f.resolve(t, "esx1"); got.Role.Name != "host" {
				t.Fatalf("a refused change altered the policy: %+v", got)
			}
		})
	}

	// Replacing the binding's role, then deleting the binding and the role.
	f.mustApply(must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{bindingOf("hosts", "vsphere", policy.RoleAdmin, "esx*")})))
	if got := f.resolve(t, "esx1"); got.Role.Name != policy.RoleAdmin {
		t.Fatalf("replaced binding resolves to %+v", got)
	}
	f.mustApply(must(f.EncodeDeletePolicyEntry(envAt(t0), "host")))
	f.mustApply(must(f.EncodeDeletePolicyEntry(envAt(t0), "hosts")))
	if got := f.resolve(t, "esx1"); got.Binding != "" || got.Tenant != "cn:esx1@"+testCA[:32] {
		t.Fatalf("after deleting everything: %+v", got)
	}
}

func TestPolicyInSnapshots(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	f.mustApply(must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{
		bindingOf("hosts", "vsphere", "host", "esx*"), roleOf("host", "Get"),
		{Name: policy.DefaultEntry, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{Role: policy.RoleNone}}},
	})))
	before := f.resolve(t, "esx1")
	snap := f.snapshotBytes()
	g := newTestFSM(t)
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := g.resolve(t, "esx1"); got.Tenant != before.Tenant || got.Role.Name != before.Role.Name {
		t.Fatalf("restored policy resolves to %+v, want %+v", got, before)
	}
	if got := g.resolve(t, "stranger"); got.Role.Name != policy.RoleNone || got.Binding != policy.DefaultEntry {
		t.Fatalf("restored default entry: %+v", got)
	}
	if !bytes.Equal(g.snapshotBytes(), snap) {
		t.Error("a restored policy persists differently")
	}

	// Restoring replaces a compiled policy that was cached before.
	h := newTestFSM(t)
	if got := h.resolve(t, "esx1"); got.Binding != "" {
		t.Fatal(got)
	}
	if err := h.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := h.resolve(t, "esx1"); got.Binding != "hosts" {
		t.Fatalf("after restore the cached policy is still used: %+v", got)
	}
}

func TestRestoreRefusesAnInvalidPolicy(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	f.mustApply(must(f.EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{bindingOf("hosts", "vsphere", "host", "esx*"), roleOf("host", "Get")})))
	// Delete the role behind the state machine's back: the snapshot then
	// holds a binding whose role is missing.
	tx := f.db.Txn(true)
	if _, err := tx.DeleteAll(tablePolicy, indexID, "host"); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if err := newTestFSM(t).Restore(bytes.NewReader(f.snapshotBytes())); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("Restore of a snapshot with an invalid policy = %v", err)
	}
}

func TestCreatorIsRecorded(t *testing.T) {
	f := newTestFSM(t)
	e := env(alice, t0)
	e.Identity = "cn:alice-host@" + testCA[:32]
	f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, e, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{storedObject("k1", symKey("k1"))}}))
	o := f.get("k1")
	if o.Owner != alice || o.Creator != e.Identity {
		t.Fatalf("owner %q creator %q", o.Owner, o.Creator)
	}
	g := newTestFSM(t)
	if err := g.Restore(bytes.NewReader(f.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	if got := g.get("k1").Creator; got != e.Identity {
		t.Fatalf("restored creator %q", got)
	}
	if f.digest() != g.digest() {
		t.Error("digest differs after restore")
	}
}
