package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// ErrInvalid reports a policy entry, or a set of entries, that cannot be
// applied; the message says what to fix.
var ErrInvalid = errors.New("policy: invalid")

// DefaultEntry is the name of the binding that applies to identities no
// other binding matches. Without it, each such identity is a tenant of its
// own with the role user.
const DefaultEntry = "default"

// Limits of a policy.
const (
	MaxEntries           = 10000
	maxNameLen           = 128
	maxTenantLen         = 64
	maxBindingIdentities = 100
	maxMatchLen          = 1024
	minCAPrefix          = 32
)

// Principal is what the policy makes of an identity.
type Principal struct {
	Identity string // Identity.String()
	Tenant   string
	Role     *Role
	// Binding is the entry that matched: a binding's name, DefaultEntry,
	// or empty when the built-in default applied.
	Binding string
}

// Policy is a compiled set of entries, ready to resolve identities. It is
// immutable.
type Policy struct {
	bindings []binding // in the order they are tried
	def      *binding  // the default entry, or nil
	// tenants are the tenant entries by name.
	tenants map[string]*kmsdpb.PolicyEntry
}

type binding struct {
	name    string
	matches []*kmsdpb.IdentityMatch
	tenant  string
	role    *Role
	exact   bool // no pattern in any match
	literal int  // characters of the matches that are not '*'
	// creds, when set, are the KMIP Credentials one of which a request
	// must carry for the binding to apply.
	creds []*kmsdpb.PolicyCredential
}

// Compile checks entries together (names unique, every role a binding
// names exists) and compiles them. The entries are not modified.
func Compile(entries []*kmsdpb.PolicyEntry) (*Policy, error) {
	if len(entries) > MaxEntries {
		return nil, fmt.Errorf("%w: more than %d entries", ErrInvalid, MaxEntries)
	}
	roles := map[string]*Role{}
	seen := map[string]bool{}
	p := &Policy{}
	for _, e := range entries {
		// A tenant entry's name is a tenant's (checkTenantEntry).
		if e.GetTenant() == nil {
			if err := checkName(e.GetName()); err != nil {
				return nil, err
			}
		}
		if seen[e.GetName()] {
			return nil, fmt.Errorf("%w: entry %q appears twice", ErrInvalid, e.GetName())
		}
		seen[e.GetName()] = true
		if e.GetTenant() != nil {
			if err := checkTenantEntry(e); err != nil {
				return nil, err
			}
			if p.tenants == nil {
				p.tenants = map[string]*kmsdpb.PolicyEntry{}
			}
			p.tenants[e.GetName()] = e
		}
		if pr := e.GetRole(); pr != nil {
			if e.GetName() == DefaultEntry {
				return nil, fmt.Errorf("%w: %q is the name of the default binding, not of a role", ErrInvalid, DefaultEntry)
			}
			r, err := compileRole(e.GetName(), pr)
			if err != nil {
				return nil, err
			}
			roles[e.GetName()] = r
		}
	}
	for _, e := range entries {
		pb := e.GetBinding()
		if pb == nil {
			if e.GetRole() == nil && e.GetTenant() == nil {
				return nil, fmt.Errorf("%w: entry %q is neither a binding, a role nor a tenant", ErrInvalid, e.GetName())
			}
			continue
		}
		b, err := compileBinding(e.GetName(), pb, roles)
		if err != nil {
			return nil, err
		}
		if b.name == DefaultEntry {
			p.def = b
			continue
		}
		p.bindings = append(p.bindings, *b)
	}
	// Exact bindings first, then patterns by how much they spell out, then
	// by name: the most specific binding wins, whatever the order of the
	// entries.
	slices.SortFunc(p.bindings, func(a, b binding) int {
		switch {
		case a.exact != b.exact:
			if a.exact {
				return -1
			}
			return 1
		case a.literal != b.literal:
			return b.literal - a.literal
		}
		return strings.Compare(a.name, b.name)
	})
	return p, nil
}

// Check checks one entry on its own, as Compile does.
func Check(e *kmsdpb.PolicyEntry) error {
	_, err := Compile([]*kmsdpb.PolicyEntry{e})
	var missing errMissingRole
	if errors.As(err, &missing) {
		return nil
	}
	return err
}

// errMissingRole reports a binding that names a role no entry defines.
type errMissingRole struct{ binding, role string }

func (e errMissingRole) Error() string {
	return fmt.Sprintf("policy: invalid: binding %q names role %q, which is neither built in (admin, user, read-only, wrap-only, none) nor a role entry", e.binding, e.role)
}

func (e errMissingRole) Unwrap() error { return ErrInvalid }

func compileBinding(name string, pb *kmsdpb.PolicyBinding, roles map[string]*Role) (*binding, error) {
	b := &binding{name: name, matches: pb.GetIdentities(), tenant: pb.GetTenant(), exact: true, creds: pb.GetCredentials()}
	if err := b.check(); err != nil {
		return nil, err
	}
	// The role is looked up last, so that Check finds every other fault of
	// a binding whose role is defined in another entry.
	role, ok := Builtin(pb.GetRole())
	if !ok {
		if role, ok = roles[pb.GetRole()]; !ok {
			return nil, errMissingRole{binding: name, role: truncate(pb.GetRole())}
		}
	}
	b.role = role
	return b, nil
}

// check checks a binding's identities and tenant and measures how specific
// its matches are.
func (b *binding) check() error {
	name := b.name
	if len(b.creds) > maxBindingIdentities {
		return fmt.Errorf("%w: binding %q has more than %d credentials", ErrInvalid, name, maxBindingIdentities)
	}
	for _, c := range b.creds {
		if err := checkCredential(c); err != nil {
			return fmt.Errorf("binding %q: %w", name, err)
		}
	}
	if name == DefaultEntry {
		if len(b.creds) != 0 {
			return fmt.Errorf("%w: the %q binding cannot require credentials", ErrInvalid, DefaultEntry)
		}
		if len(b.matches) != 0 {
			return fmt.Errorf("%w: the %q binding applies to every identity no other binding matches, so it lists no identities", ErrInvalid, DefaultEntry)
		}
		if b.tenant != "" {
			if err := checkTenant(b.tenant); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkTenant(b.tenant); err != nil {
		return fmt.Errorf("binding %q: %w", name, err)
	}
	if len(b.matches) == 0 || len(b.matches) > maxBindingIdentities {
		return fmt.Errorf("%w: binding %q needs 1 to %d identities", ErrInvalid, name, maxBindingIdentities)
	}
	for _, m := range b.matches {
		if err := checkMatch(m); err != nil {
			return fmt.Errorf("binding %q: %w", name, err)
		}
		for _, f := range matchFields(m) {
			if strings.Contains(f, "*") {
				b.exact = false
			}
			b.literal += len(f) - strings.Count(f, "*")
		}
		if m.GetCa() == "*" {
			b.exact = false
		}
	}
	return nil
}

// matchFields are a match's name fields, empty ones included.
func matchFields(m *kmsdpb.IdentityMatch) []string {
	return []string{m.GetCommonName(), m.GetDns(), m.GetEmail(), m.GetUri()}
}

func checkMatch(m *kmsdpb.IdentityMatch) error {
	ca := m.GetCa()
	switch {
	case ca == "":
		return fmt.Errorf("%w: an identity names no ca: give the issuing CA's SHA-256 fingerprint (or \"*\" for any client CA)", ErrInvalid)
	case ca != "*" && (len(ca) < minCAPrefix || len(ca) > 64 || strings.Trim(ca, "0123456789abcdef") != ""):
		return fmt.Errorf("%w: ca %q is not \"*\" or at least %d lower-case hex digits of a SHA-256 fingerprint", ErrInvalid, truncate(ca), minCAPrefix)
	}
	named := false
	for _, f := range matchFields(m) {
		if len(f) > maxMatchLen {
			return fmt.Errorf("%w: an identity field is longer than %d characters", ErrInvalid, maxMatchLen)
		}
		named = named || f != ""
	}
	if !named {
		return fmt.Errorf("%w: an identity names no common_name, dns, email or uri (use \"common_name\": \"*\" for every certificate of the CA)", ErrInvalid)
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > maxNameLen || !plain(name) {
		return fmt.Errorf("%w: entry name %q: 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", ErrInvalid, truncate(name), maxNameLen)
	}
	return nil
}

// CheckTenant checks the form of a tenant name. Tenant names cannot hold
// ':' or '@', so they never equal an identity that is a tenant of its own.
func CheckTenant(t string) error { return checkTenant(t) }

func checkTenant(t string) error {
	if t == "" || len(t) > maxTenantLen || !plain(t) {
		return fmt.Errorf("%w: tenant %q: 1 to %d characters of A-Z, a-z, 0-9, '.', '_' and '-'", ErrInvalid, truncate(t), maxTenantLen)
	}
	return nil
}

func plain(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// defaultRole is the role of identities no entry names, when the policy
// has no default entry.
var defaultRole = builtin[RoleUser]

// Resolve returns what the policy makes of id for a request without a
// credential: the most specific binding that matches it and requires no
// credential, else the default entry, else a tenant of its own with the
// role user.
func (p *Policy) Resolve(id Identity) Principal {
	name := id.String()
	if p != nil {
		for i := range p.bindings {
			b := &p.bindings[i]
			if len(b.creds) == 0 && b.matchesIdentity(id) {
				return b.principal(id)
			}
		}
		if d := p.def; d != nil {
			t := d.tenant
			if t == "" {
				t = name
			}
			return Principal{Identity: name, Tenant: t, Role: d.role, Binding: DefaultEntry}
		}
	}
	return Principal{Identity: name, Tenant: name, Role: defaultRole}
}

func (b *binding) principal(id Identity) Principal {
	return Principal{Identity: id.String(), Tenant: b.tenant, Role: b.role, Binding: b.name}
}

func (b *binding) matchesIdentity(id Identity) bool {
	for _, m := range b.matches {
		if matchOne(m, id) {
			return true
		}
	}
	return false
}

func matchOne(m *kmsdpb.IdentityMatch, id Identity) bool {
	if ca := m.GetCa(); ca != "*" && (id.CA == "" || !strings.HasPrefix(id.CA, ca)) {
		return false
	}
	if f := m.GetCommonName(); f != "" && !glob(f, id.CommonName) {
		return false
	}
	for _, c := range []struct {
		pattern string
		names   []string
	}{{m.GetDns(), id.DNS}, {m.GetEmail(), id.Email}, {m.GetUri(), id.URI}} {
		if c.pattern != "" && !slices.ContainsFunc(c.names, func(n string) bool { return glob(c.pattern, n) }) {
			return false
		}
	}
	return true
}

// glob matches s against pattern, where '*' stands for any run of
// characters (none included) and every other character for itself.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
