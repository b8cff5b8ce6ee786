package kmip

import (
	"errors"
	"fmt"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/kmip/keyformat"
	"github.com/kmsd/kmsd/kmip/objkind"
)

// errNoMaterial answers Get on a destroyed object, as the OASIS test cases
// record it (TC-314: "Object does not exist").
var errNoMaterial = errorf(kmip.ResultReasonItemNotFound, "object does not exist (destroyed)")

// sealObject serialises a managed object's KMIP structure and seals it for
// the object id and its owner.
func (s *Service) sealObject(owner, id string, obj kmip.Object) ([]byte, error) {
	pt := ttlv.MarshalTTLV(obj)
	defer clear(pt)
	return s.cfg.Sealer.SealObject(seal.Binding{ID: id, Owner: owner}, pt)
}

// openObject unseals and decodes a stored object's KMIP structure.
func (s *Service) openObject(o *fsm.Object) (obj kmip.Object, err error) {
	if len(o.Material) == 0 {
		return nil, errNoMaterial
	}
	pt, err := s.cfg.Sealer.OpenObject(seal.Binding{ID: o.ID, Owner: o.Owner}, o.Material)
	if err != nil {
		return nil, fmt.Errorf("kmip: open %s: %w", o.ID, err)
	}
	defer clear(pt)
	obj, err = kmip.NewObjectForType(o.ObjectType())
	if err != nil {
		return nil, fmt.Errorf("kmip: stored object %s: %w", o.ID, err)
	}
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, errors.New("kmip: stored object decoder panicked")
		}
	}()
	if err := ttlv.UnmarshalTTLV(pt, obj); err != nil {
		return nil, fmt.Errorf("kmip: decode stored object %s: %w", o.ID, err)
	}
	return obj, nil
}

// convertFormat returns obj in the requested key format type, or an error if
// that conversion is not supported. Format 0 means "as stored".
func convertFormat(obj kmip.Object, format kmip.KeyFormatType) (kmip.Object, error) {
	if format == 0 {
		return obj, nil
	}
	if kb := keyformat.BlockOf(obj); kb != nil && kb.KeyFormatType == format {
		return obj, nil
	}
	k, ok := objkind.Lookup(obj.ObjectType())
	if !ok || k.Convert == nil {
		return nil, errFormatUnsupport
	}
	return k.Convert(obj, format)
}
