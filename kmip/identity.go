package kmip

import (
	"crypto/tls"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/kmip/policy"
)

// identityFrom returns the client's identity: the CA that issued its
// verified certificate and the names the certificate carries.
func identityFrom(st tls.ConnectionState) (policy.Identity, error) {
	if len(st.VerifiedChains) == 0 {
		return policy.Identity{}, policy.ErrNoIdentity
	}
	return policy.FromChain(st.VerifiedChains[0])
}

// PolicySource gives the current access policy (*fsm.FSM).
type PolicySource interface {
	Policy() (*policy.Policy, error)
}

// errPermissionDenied answers an operation or object type the client's
// role does not allow.
var errPermissionDenied = errorf(kmip.ResultReasonPermissionDenied, "not allowed for this client's role")

// principal resolves the identity of a request message through the
// current policy. Without a policy source every identity is a tenant of its
// own with the role user.
func (s *Service) principal(id policy.Identity) (policy.Principal, error) {
	var p *policy.Policy
	if s.cfg.Policy != nil {
		var err error
		if p, err = s.cfg.Policy.Policy(); err != nil {
			return policy.Principal{}, err
		}
	}
	return p.Resolve(id), nil
}

// allowType checks that the client's role may use objects of type t.
func (rc *reqCtx) allowType(t kmip.ObjectType) error {
	if !rc.role.AllowsType(t) {
		return errPermissionDenied
	}
	return nil
}
