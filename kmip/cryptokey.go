package kmip

import (
	"context"
	"errors"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/cryptoalg"
	"github.com/kmsd/kmsd/kmip/keyformat"
)

// Using a stored key for a cryptographic operation (Encrypt, Decrypt, Sign,
// Signature Verify, MAC, MAC Verify). The cryptography runs on the node
// that received the request; only Usage Limits counts go through the log
// (usagemeter.go).

// keyUse says whether an operation applies protection or processes
// protected data: KMIP 1.4 §3.22 (State) lets only Active objects apply
// protection, and Deactivated or Compromised ones still process it ("MAY
// be used to process cryptographically-protected information (e.g.,
// decryption or signature verification)").
type keyUse int

const (
	protect keyUse = iota // Encrypt, Sign, MAC
	process               // Decrypt, Signature Verify, MAC Verify
)

var errKeyState = errorf(kmip.ResultReasonPermissionDenied, "the key is not in a state that allows this operation")

// maxCryptoData bounds the data of one cryptographic request.
const maxCryptoData = 1 << 20

// cryptoKey is a key opened for one operation; close clears its material.
type cryptoKey struct {
	o   *fsm.Object
	obj kmip.Object
	kb  *kmip.KeyBlock
}

func (k *cryptoKey) close() {
	if k == nil || k.kb == nil {
		return
	}
	if b, ok := keyformat.PlainBytes(k.kb); ok {
		clear(b)
	}
}

// usableFor looks up the key named by id (or the ID Placeholder), checks
// that its type is one of types, that its state and dates allow the use,
// and that its Cryptographic Usage Mask has bit; then it opens the
// material.
func (s *Service) usableFor(ctx context.Context, rc *reqCtx, id string, use keyUse, bit kmip.CryptographicUsageMask, types ...kmip.ObjectType) (*cryptoKey, error) {
	o, err := s.object(ctx, rc, id)
	if err != nil {
		return nil, err
	}
	if o.Archived() {
		return nil, errArchived
	}
	typeOK := false
	for _, t := range types {
		typeOK = typeOK || o.ObjectType() == t
	}
	if !typeOK {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "the object is not a key this operation can use")
	}
	if err := checkKeyUse(o, rc, use); err != nil {
		return nil, err
	}
	mask, _ := o.Attr(kmip.AttributeNameCryptographicUsageMask)
	if usage, _ := mask.(kmip.CryptographicUsageMask); usage&bit == 0 {
		return nil, errorf(kmip.ResultReasonPermissionDenied, "the key's Cryptographic Usage Mask does not allow this operation")
	}
	obj, err := s.openObject(o)
	if err != nil {
		return nil, err
	}
	kb := keyformat.BlockOf(obj)
	if kb == nil {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "the object holds no key")
	}
	if kb.KeyWrappingData != nil {
		return nil, errorf(kmip.ResultReasonIllegalOperation, "the key is stored wrapped and cannot be used here")
	}
	return &cryptoKey{o: o, obj: obj, kb: kb}, nil
}

// checkKeyUse applies the state rules and the protection and processing
// dates (KMIP 1.4 §3.26 Process Start Date, §3.27 Protect Stop Date).
func checkKeyUse(o *fsm.Object, rc *reqCtx, use keyUse) error {
	state := fsm.EffectiveState(o, rc.now)
	switch use {
	case protect:
		if state != kmip.StateActive {
			return errKeyState
		}
		if stop := o.Date(kmip.AttributeNameProtectStopDate); !stop.IsZero() && !rc.now.Before(stop) {
			return errorf(kmip.ResultReasonPermissionDenied, "the key's Protect Stop Date has passed")
		}
	case process:
		if state != kmip.StateActive && state != kmip.StateDeactivated && state != kmip.StateCompromised {
			return errKeyState
		}
		if start := o.Date(kmip.AttributeNameProcessStartDate); !start.IsZero() && rc.now.Before(start) {
			return errorf(kmip.ResultReasonPermissionDenied, "the key's Process Start Date has not come")
		}
	}
	return nil
}

// cryptoParams picks the Cryptographic Parameters of a request: those
// given, completed by the key's stored ones when an instance covers them
// (§4.29: "If omitted then the Cryptographic Parameters associated with the
// Managed Cryptographic Object with the lowest Attribute Index SHALL be
// used").
func cryptoParams(given *kmip.CryptographicParameters, o *fsm.Object) *kmip.CryptographicParameters {
	stored, ok := matchParams(given, o.AttrAll(kmip.AttributeNameCryptographicParameters))
	if ok {
		return &stored
	}
	return given
}

// keyAlgorithm returns the key's algorithm and length in bits.
func (k *cryptoKey) algorithm() (kmip.CryptographicAlgorithm, int) {
	return k.kb.CryptographicAlgorithm, int(k.kb.CryptographicLength)
}

// symmetricBytes returns the key's bytes; the caller must not keep them
// past close.
func (k *cryptoKey) symmetricBytes() ([]byte, error) {
	b, err := keyformat.KeyBytes(k.kb, kmip.KeyFormatTypeRaw, kmip.KeyFormatTypeTransparentSymmetricKey)
	if err != nil {
		return nil, errorf(kmip.ResultReasonKeyFormatTypeNotSupported, "the key's format cannot be used for this operation")
	}
	return b, nil
}

// cryptoErrors maps the refusals of the cryptographic primitives to KMIP
// Result Reasons; the message is cryptoalg.Reason's, written for clients.
var cryptoErrors = []struct {
	kind   error
	reason kmip.ResultReason
}{
	{cryptoalg.ErrInvalidParameters, kmip.ResultReasonInvalidField},
	{cryptoalg.ErrUnsupported, kmip.ResultReasonFeatureNotSupported},
	{cryptoalg.ErrInvalidKey, kmip.ResultReasonInvalidField},
	{cryptoalg.ErrInvalidData, kmip.ResultReasonCryptographicFailure},
	{cryptoalg.ErrAuthentication, kmip.ResultReasonCryptographicFailure},
	{cryptoalg.ErrLimit, kmip.ResultReasonCryptographicFailure},
	{cryptoalg.ErrFinished, kmip.ResultReasonInvalidMessage},
}

// cryptoError turns a primitive's error into a client error.
func cryptoError(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range cryptoErrors {
		if errors.Is(err, m.kind) {
			return errorf(m.reason, "%s", cryptoalg.Reason(err))
		}
	}
	return err
}
