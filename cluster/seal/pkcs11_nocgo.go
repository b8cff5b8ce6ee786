//go:build !cgo

package seal

// Without cgo there is no PKCS#11: the method exists, so records and options
// still parse and validate, but it refuses to create or open anything.

type pkcs11Method struct{}

func (pkcs11Method) create(_ string, _ *Record, opts InitOptions) (created, error) {
	if err := opts.PKCS11.validate(); err != nil {
		return created{}, err
	}
	return created{}, ErrNoCgo
}

func openHSMKey(o PKCS11Options, _ []byte) (kek, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}
