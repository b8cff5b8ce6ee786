package kmip

import (
	"crypto/tls"
	"errors"
)

var errNoIdentity = errors.New("kmip: client certificate carries no usable identity")

// identityFrom returns the client's identity: the Common Name of its verified
// certificate, or its first DNS, e-mail or URI subject alternative name. The
// identity is the tenant that owns the objects the client creates.
func identityFrom(st tls.ConnectionState) (string, error) {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", errNoIdentity
	}
	cert := st.VerifiedChains[0][0]
	switch {
	case cert.Subject.CommonName != "":
		return cert.Subject.CommonName, nil
	case len(cert.DNSNames) > 0:
		return cert.DNSNames[0], nil
	case len(cert.EmailAddresses) > 0:
		return cert.EmailAddresses[0], nil
	case len(cert.URIs) > 0:
		return cert.URIs[0].String(), nil
	}
	return "", errNoIdentity
}
