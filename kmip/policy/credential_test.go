package policy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// cheapHash is an Argon2id hash with the smallest parameters allowed, so
// that tests run fast.
func cheapHash(password string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestHashAndVerifyPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=2,p=2$") {
		t.Errorf("hash %q", h)
	}
	if !VerifyPassword(h, "correct horse") || VerifyPassword(h, "correct horsE") || VerifyPassword(h, "") {
		t.Error("VerifyPassword accepts a wrong password or refuses the right one")
	}
	if other, _ := HashPassword("correct horse"); other == h {
		t.Error("two hashes of one password share a salt")
	}
	if _, err := HashPassword(""); err == nil {
		t.Error("an empty password was hashed")
	}
}

func TestResolveWithCredentials(t *testing.T) {
	id := Identity{CA: caA, CommonName: "conformance"}
	entry := bindingEntry("fred", "fred-tenant", RoleAdmin, &kmsdpb.IdentityMatch{Ca: caA, CommonName: "conformance"})
	entry.GetBinding().Credentials = []*kmsdpb.PolicyCredential{
		{Username: "Fred", PasswordArgon2Id: cheapHash("password1")},
		{DeviceIdentifier: "devID2233", PasswordArgon2Id: cheapHash("secret")},
	}
	p, err := Compile([]*kmsdpb.PolicyEntry{entry})
	if err != nil {
		t.Fatal(err)
	}
	verified := 0
	verify := func(hash, password string) bool { verified++; return VerifyPassword(hash, password) }
	for _, c := range []struct {
		name    string
		id      Identity
		cred    *Credential
		tenant  string
		refused bool
	}{
		{"username", id, &Credential{Username: "Fred", Password: "password1"}, "fred-tenant", false},
		{"device", id, &Credential{Device: "devID2233", Password: "secret"}, "fred-tenant", false},
		{"wrong password", id, &Credential{Username: "Fred", Password: "password2"}, "", true},
		{"unknown user", id, &Credential{Username: "Barney", Password: "secret2"}, "", true},
		{"unknown device", id, &Credential{Device: "devID4444", Password: "passwd"}, "", true},
		{"username for a device", id, &Credential{Username: "devID2233", Password: "secret"}, "", true},
		{"no credential", id, nil, id.String(), false},
		{"identity without credential bindings", Identity{CA: caB, CommonName: "conformance"}, &Credential{Username: "Fred", Password: "password1"}, "cn:conformance@" + caB[:32], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			verified = 0
			got, err := p.ResolveWith(c.id, c.cred, verify)
			if c.refused {
				if !errors.Is(err, ErrBadCredential) {
					t.Fatalf("ResolveWith = %+v, %v; want ErrBadCredential", got, err)
				}
				if verified != 1 {
					t.Errorf("a refused credential cost %d password checks, want 1 (the same as a wrong password)", verified)
				}
				return
			}
			if err != nil || got.Tenant != c.tenant {
				t.Fatalf("ResolveWith = %+v, %v; want tenant %q", got, err, c.tenant)
			}
		})
	}
}

func TestCredentialChecks(t *testing.T) {
	match := &kmsdpb.IdentityMatch{Ca: caA, CommonName: "x"}
	for _, c := range []struct {
		name string
		cred *kmsdpb.PolicyCredential
		want string
	}{
		{"no name", &kmsdpb.PolicyCredential{PasswordArgon2Id: cheapHash("p")}, "username or a device_identifier"},
		{"both names", &kmsdpb.PolicyCredential{Username: "u", DeviceIdentifier: "d", PasswordArgon2Id: cheapHash("p")}, "not both"},
		{"plain password", &kmsdpb.PolicyCredential{Username: "u", PasswordArgon2Id: "hunter2"}, "not an Argon2id hash"},
		{"argon2i", &kmsdpb.PolicyCredential{Username: "u", PasswordArgon2Id: strings.Replace(cheapHash("p"), "argon2id", "argon2i", 1)}, "not an Argon2id hash"},
		{"too costly", &kmsdpb.PolicyCredential{Username: "u", PasswordArgon2Id: strings.Replace(cheapHash("p"), "m=8,", "m=4194304,", 1)}, "out of bounds"},
		{"short salt", &kmsdpb.PolicyCredential{Username: "u", PasswordArgon2Id: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$" + strings.Repeat("A", 43)}, "salt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := bindingEntry("b", "t", RoleUser, match)
			e.GetBinding().Credentials = []*kmsdpb.PolicyCredential{c.cred}
			if _, err := Compile([]*kmsdpb.PolicyEntry{e}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Compile = %v, want %q", err, c.want)
			}
		})
	}
	d := bindingEntry(DefaultEntry, "", RoleUser)
	d.GetBinding().Credentials = []*kmsdpb.PolicyCredential{{Username: "u", PasswordArgon2Id: cheapHash("p")}}
	if _, err := Compile([]*kmsdpb.PolicyEntry{d}); err == nil || !strings.Contains(err.Error(), "cannot require credentials") {
		t.Fatalf("default with credentials: %v", err)
	}
}
