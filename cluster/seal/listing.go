package seal

import (
	"fmt"
	"time"
)

// The types the state machine and the cluster exchange about the keyring:
// both import this package, and neither imports the other. None of them
// holds a key in clear.

// KeyVersion is one version of the keyring as the state machine lists it.
type KeyVersion struct {
	Version uint32
	Created time.Time
	// Objects is how many objects' material names this version.
	Objects int
	// Latest is the version new seals use.
	Latest bool
}

// SealedDataKey is one keyring entry: a data key sealed under the root key.
type SealedDataKey struct {
	Version uint32
	Sealed  []byte
}

// SealedObject is one object's sealed material and what it is bound to, as
// the state machine lists it for a rewrap.
type SealedObject struct {
	ID, Owner string
	Material  []byte
}

// Resealed is an object's material sealed again under the newest data key,
// with the material it replaces (the state machine applies it only if the
// object still holds exactly that).
type Resealed struct {
	ID       string
	Previous []byte
	Sealed   []byte
}

// Reseal opens an object's material and seals it again under the newest
// data key, for the same binding. The plaintext exists only inside this
// call and is cleared before it returns.
func (b *Barrier) Reseal(o SealedObject) (Resealed, error) {
	bd := Binding{ID: o.ID, Owner: o.Owner}
	pt, err := b.OpenObject(bd, o.Material)
	if err != nil {
		return Resealed{}, fmt.Errorf("object %q: %w", o.ID, err)
	}
	defer clear(pt)
	blob, err := b.SealObject(bd, pt)
	if err != nil {
		return Resealed{}, fmt.Errorf("object %q: %w", o.ID, err)
	}
	return Resealed{ID: o.ID, Previous: o.Material, Sealed: blob}, nil
}
