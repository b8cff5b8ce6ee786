package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"alice", "alice", true},
		{"alice", "alicex", false},
		{"*", "", true},
		{"*", "anything", true},
		{"*.example.com", "esx1.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"esx-*", "esx-01", true},
		{"esx-*", "esx", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"ab*ba", "aba", false},
		{"ab*ba", "abba", true},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

const caA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const caB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func bindingEntry(name, tenant, role string, ids ...*kmsdpb.IdentityMatch) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{Identities: ids, Tenant: tenant, Role: role}}}
}

func roleEntry(name string, r *kmsdpb.PolicyRole) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Role{Role: r}}
}

func TestResolve(t *testing.T) {
	p, err := Compile([]*kmsdpb.PolicyEntry{
		bindingEntry("a-hosts", "vsphere", RoleUser, &kmsdpb.IdentityMatch{Ca: caA, Dns: "*.vsphere.example.com"}),
		bindingEntry("a-esx1", "ops", RoleAdmin, &kmsdpb.IdentityMatch{Ca: caA[:32], Dns: "esx1.vsphere.example.com"}),
		bindingEntry("any-backup", "backup", "backup-agent", &kmsdpb.IdentityMatch{Ca: "*", CommonName: "backup-*"}),
		roleEntry("backup-agent", &kmsdpb.PolicyRole{Operations: []string{"Get", "Locate"}, ObjectTypes: []string{"SymmetricKey"}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                  string
		id                    Identity
		tenant, role, binding string
	}{
		{"pattern", Identity{CA: caA, CommonName: "esx2", DNS: []string{"esx2.vsphere.example.com"}}, "vsphere", RoleUser, "a-hosts"},
		{"exact beats pattern", Identity{CA: caA, CommonName: "esx1", DNS: []string{"esx1.vsphere.example.com"}}, "ops", RoleAdmin, "a-esx1"},
		{"other CA, same names", Identity{CA: caB, CommonName: "esx1", DNS: []string{"esx1.vsphere.example.com"}}, "cn:esx1@" + caB[:32], RoleUser, ""},
		{"any CA", Identity{CA: caB, CommonName: "backup-7"}, "backup", "backup-agent", "any-backup"},
		{"no match", Identity{CA: caA, CommonName: "alice"}, "cn:alice@" + caA[:32], RoleUser, ""},
		{"in process", Named("alice"), "alice", RoleUser, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := p.Resolve(c.id)
			if got.Tenant != c.tenant || got.Role.Name != c.role || got.Binding != c.binding {
				t.Errorf("Resolve = tenant %q role %q binding %q, want %q %q %q", got.Tenant, got.Role.Name, got.Binding, c.tenant, c.role, c.binding)
			}
		})
	}
}

func TestResolveDefaultEntry(t *testing.T) {
	deny, err := Compile([]*kmsdpb.PolicyEntry{bindingEntry(DefaultEntry, "", RoleNone)})
	if err != nil {
		t.Fatal(err)
	}
	got := deny.Resolve(Identity{CA: caA, CommonName: "mallory"})
	if got.Role.Allows(kmip.OperationDiscoverVersions) || got.Binding != DefaultEntry || got.Tenant != "cn:mallory@"+caA[:32] {
		t.Errorf("default none: %+v", got)
	}
	shared, err := Compile([]*kmsdpb.PolicyEntry{bindingEntry(DefaultEntry, "guests", RoleReadOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if got := shared.Resolve(Identity{CA: caA, CommonName: "x"}); got.Tenant != "guests" || got.Role.Name != RoleReadOnly {
		t.Errorf("default with tenant: %+v", got)
	}
	var none *Policy
	if got := none.Resolve(Named("bob")); got.Tenant != "bob" || got.Role.Name != RoleUser {
		t.Errorf("no policy: %+v", got)
	}
}

func TestCompileRefuses(t *testing.T) {
	okMatch := &kmsdpb.IdentityMatch{Ca: caA, CommonName: "alice"}
	for _, c := range []struct {
		name    string
		entries []*kmsdpb.PolicyEntry
		want    string
	}{
		{"no ca", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, &kmsdpb.IdentityMatch{CommonName: "alice"})}, "names no ca"},
		{"short ca", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, &kmsdpb.IdentityMatch{Ca: "abcd", CommonName: "alice"})}, "hex digits"},
		{"upper-case ca", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, &kmsdpb.IdentityMatch{Ca: strings.ToUpper(caA), CommonName: "alice"})}, "hex digits"},
		{"no name", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, &kmsdpb.IdentityMatch{Ca: caA})}, "names no common_name"},
		{"no identities", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser)}, "identities"},
		{"bad tenant", []*kmsdpb.PolicyEntry{bindingEntry("b", "a:b", RoleUser, okMatch)}, "tenant"},
		{"no tenant", []*kmsdpb.PolicyEntry{bindingEntry("b", "", RoleUser, okMatch)}, "tenant"},
		{"bad name", []*kmsdpb.PolicyEntry{bindingEntry("a b", "t", RoleUser, okMatch)}, "entry name"},
		{"twice", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, okMatch), bindingEntry("b", "t", RoleUser, okMatch)}, "twice"},
		{"missing role", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", "auditor", okMatch)}, "auditor"},
		{"builtin role name", []*kmsdpb.PolicyEntry{roleEntry(RoleAdmin, &kmsdpb.PolicyRole{Operations: []string{"*"}})}, "built-in"},
		{"role named default", []*kmsdpb.PolicyEntry{roleEntry(DefaultEntry, &kmsdpb.PolicyRole{Operations: []string{"*"}})}, "default binding"},
		{"default with identities", []*kmsdpb.PolicyEntry{bindingEntry(DefaultEntry, "", RoleUser, okMatch)}, "lists no identities"},
		{"unknown operation", []*kmsdpb.PolicyEntry{roleEntry("r", &kmsdpb.PolicyRole{Operations: []string{"Steal"}})}, "unknown operation"},
		{"unknown type", []*kmsdpb.PolicyEntry{roleEntry("r", &kmsdpb.PolicyRole{Operations: []string{"Get"}, ObjectTypes: []string{"Gold"}})}, "unknown object type"},
		{"no operations", []*kmsdpb.PolicyEntry{roleEntry("r", &kmsdpb.PolicyRole{})}, "no operations"},
		{"star and more", []*kmsdpb.PolicyEntry{roleEntry("r", &kmsdpb.PolicyRole{Operations: []string{"*", "Get"}})}, "stands alone"},
		{"empty entry", []*kmsdpb.PolicyEntry{{Name: "e"}}, "neither"},
		{"long field", []*kmsdpb.PolicyEntry{bindingEntry("b", "t", RoleUser, &kmsdpb.IdentityMatch{Ca: caA, CommonName: strings.Repeat("x", 2000)})}, "longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(c.entries)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compile: %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

func TestCheckAllowsForwardRole(t *testing.T) {
	if err := Check(bindingEntry("b", "t", "later", &kmsdpb.IdentityMatch{Ca: caA, CommonName: "x"})); err != nil {
		t.Fatalf("Check of a binding naming a role defined elsewhere: %v", err)
	}
	if err := Check(bindingEntry("b", "", "later", &kmsdpb.IdentityMatch{Ca: caA, CommonName: "x"})); err == nil {
		t.Fatal("Check accepted a binding without tenant")
	}
}

func TestBuiltinRoles(t *testing.T) {
	for _, c := range []struct {
		role    string
		allowed []kmip.Operation
		refused []kmip.Operation
	}{
		{RoleAdmin, []kmip.Operation{kmip.OperationCreate, kmip.OperationDestroy, kmip.OperationGet}, nil},
		{RoleUser, []kmip.Operation{kmip.OperationCreate, kmip.OperationRegister, kmip.OperationDestroy, kmip.OperationGet}, nil},
		{RoleReadOnly, []kmip.Operation{kmip.OperationGet, kmip.OperationGetAttributes, kmip.OperationGetAttributeList, kmip.OperationLocate, kmip.OperationQuery, kmip.OperationDiscoverVersions},
			[]kmip.Operation{kmip.OperationCreate, kmip.OperationRegister, kmip.OperationDestroy, kmip.OperationRevoke, kmip.OperationAddAttribute, kmip.OperationActivate}},
		{RoleWrapOnly, []kmip.Operation{kmip.OperationGet, kmip.OperationLocate, kmip.OperationEncrypt, kmip.OperationDecrypt},
			[]kmip.Operation{kmip.OperationCreate, kmip.OperationRegister, kmip.OperationDestroy, kmip.OperationModifyAttribute}},
		{RoleNone, nil, []kmip.Operation{kmip.OperationGet, kmip.OperationQuery, kmip.OperationDiscoverVersions}},
	} {
		r, ok := Builtin(c.role)
		if !ok {
			t.Fatalf("no built-in role %q", c.role)
		}
		for _, op := range c.allowed {
			if !r.Allows(op) {
				t.Errorf("%s refuses %v", c.role, op)
			}
		}
		for _, op := range c.refused {
			if r.Allows(op) {
				t.Errorf("%s allows %v", c.role, op)
			}
		}
	}
	if u, _ := Builtin(RoleUser); !u.DestroyOwnOnly {
		t.Error("user may destroy what it did not create")
	}
	if w, _ := Builtin(RoleWrapOnly); !w.WrappedExportOnly {
		t.Error("wrap-only may export in clear")
	}
}

func TestCustomRole(t *testing.T) {
	p, err := Compile([]*kmsdpb.PolicyEntry{
		roleEntry("secrets-reader", &kmsdpb.PolicyRole{Operations: []string{"Get", "Locate"}, ObjectTypes: []string{"SecretData"}, WrappedExportOnly: true}),
		bindingEntry("b", "t", "secrets-reader", &kmsdpb.IdentityMatch{Ca: caA, CommonName: "app"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Resolve(Identity{CA: caA, CommonName: "app"}).Role
	if !r.Allows(kmip.OperationGet) || r.Allows(kmip.OperationCreate) || !r.AllowsType(kmip.ObjectTypeSecretData) ||
		r.AllowsType(kmip.ObjectTypeSymmetricKey) || !r.WrappedExportOnly || r.DestroyOwnOnly {
		t.Errorf("custom role compiled to %+v", r)
	}
}

// issue makes a certificate for tmpl signed by parent (self-signed when
// parent is nil).
func issue(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestFromChainTwoCAsSameName(t *testing.T) {
	ca1, k1 := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ca one"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	ca2, k2 := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ca two"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	alice1, _ := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}, ca1, k1)
	alice2, _ := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}}, ca2, k2)
	id1, err := FromChain([]*x509.Certificate{alice1, ca1})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := FromChain([]*x509.Certificate{alice2, ca2})
	if err != nil {
		t.Fatal(err)
	}
	if id1.String() == id2.String() {
		t.Fatalf("two CAs' alice share the identity %q", id1)
	}
	if want := "cn:alice@" + Fingerprint(ca1)[:32]; id1.String() != want {
		t.Errorf("identity %q, want %q", id1, want)
	}
	var p *Policy
	if p.Resolve(id1).Tenant == p.Resolve(id2).Tenant {
		t.Error("two CAs' alice share a tenant")
	}

	u, _ := url.Parse("spiffe://example.org/db")
	sanOnly, _ := issue(t, &x509.Certificate{DNSNames: []string{"db1.example.org"}, URIs: []*url.URL{u}}, ca1, k1)
	id, err := FromChain([]*x509.Certificate{sanOnly, ca1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id.String(), "dns:db1.example.org@") || id.URI[0] != u.String() {
		t.Errorf("SAN-only identity %q %v", id, id.URI)
	}
	nameless, _ := issue(t, &x509.Certificate{}, ca1, k1)
	if _, err := FromChain([]*x509.Certificate{nameless, ca1}); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("nameless certificate: %v", err)
	}
	if _, err := FromChain(nil); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("empty chain: %v", err)
	}
}
