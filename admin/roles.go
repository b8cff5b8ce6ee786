package admin

import (
	"crypto/x509"
	"slices"
	"strings"
)

// Role is what an operator may do on the admin API. It comes from the admin
// certificate's Subject OU (RoleOf).
type Role string

// Roles of the admin API.
const (
	// RoleOperator may call every method.
	RoleOperator Role = "operator"
	// RoleBackup takes and inspects snapshots, and reads the status.
	RoleBackup Role = "backup"
	// RoleReadOnly lists and reads: status, members, seal state, keyring.
	RoleReadOnly Role = "read-only"
)

// RoleOf returns the role that cert's first Subject OU naming a role
// names (in any letter case). A certificate without such an OU is an
// operator's: admin certificates made before roles existed, and kmsd dev's,
// keep every right.
func RoleOf(cert *x509.Certificate) Role {
	if cert == nil {
		return ""
	}
	for _, ou := range cert.Subject.OrganizationalUnit {
		for _, r := range everyRole {
			if strings.EqualFold(ou, string(r)) {
				return r
			}
		}
	}
	return RoleOperator
}

var (
	everyRole = []Role{RoleOperator, RoleBackup, RoleReadOnly}
	readers   = []Role{RoleOperator, RoleReadOnly}
	backups   = []Role{RoleOperator, RoleBackup}
	operators = []Role{RoleOperator}
)

// methodRoles is the one table of who may call each admin method, by
// method name. A method it does not name is refused to every role: a new
// method must be added here (a test walks the service's methods). List and
// get methods belong to readers.
var methodRoles = map[string][]Role{
	"Status":                  everyRole,
	"Members":                 readers,
	"SealStatus":              readers,
	"Keyring":                 readers,
	"Snapshot":                backups,
	"InspectSnapshot":         backups,
	"ListPolicy":              readers,
	"GetPolicy":               readers,
	"ResolveIdentity":         readers,
	"ListCertificates":        readers,
	"ListRevokedCertificates": readers,
	"TenantUsage":             readers,

	"Join":                    operators,
	"CreateJoinToken":         operators,
	"Remove":                  operators,
	"TransferLeadership":      operators,
	"Restore":                 operators,
	"Unseal":                  operators,
	"Seal":                    operators,
	"RotateKey":               operators,
	"Rewrap":                  operators,
	"RetireKey":               operators,
	"VerifyAuditLog":          operators,
	"SetPolicy":               operators,
	"DeletePolicy":            operators,
	"SetCertificateAuthority": operators,
	"IssueCertificate":        operators,
	"RevokeCertificate":       operators,
	"ImportCRL":               operators,
}

// roleMayCall reports whether role may call the admin method (a full
// method name).
func roleMayCall(role Role, fullMethod string) bool {
	return slices.Contains(MethodRoles(fullMethod), role)
}

// MethodRoles returns the roles that may call an admin method (a full
// method name), or nil when none may.
func MethodRoles(fullMethod string) []Role {
	name, ok := strings.CutPrefix(fullMethod, AdminServicePrefix)
	if !ok {
		return nil
	}
	return slices.Clone(methodRoles[name])
}
