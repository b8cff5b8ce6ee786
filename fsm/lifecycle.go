package fsm

import (
	"time"

	"github.com/ovh/kmip-go"
)

// EffectiveState returns the object's state at time now. KMIP 1.4 §3.22: an
// object SHALL become Active when its Activation Date is reached and
// Deactivated when its Deactivation Date is reached; dates only move an
// object forward from Pre-Active or Active.
func EffectiveState(o *Object, now time.Time) kmip.State {
	s := o.StoredState()
	if s == kmip.StatePreActive {
		if act := o.Date(kmip.AttributeNameActivationDate); !act.IsZero() && !now.Before(act) {
			s = kmip.StateActive
		}
	}
	if s == kmip.StatePreActive || s == kmip.StateActive {
		if deact := o.Date(kmip.AttributeNameDeactivationDate); !deact.IsZero() && !now.Before(deact) {
			s = kmip.StateDeactivated
		}
	}
	return s
}

// settle writes the effective state at now into the object, so that a
// transition starts from what a reader would have seen.
func settle(o *Object, now time.Time) {
	if s := EffectiveState(o, now); s != o.StoredState() {
		o.SetAttr(kmip.AttributeNameState, s)
	}
}

// touch records a change at now.
func touch(o *Object, now time.Time) {
	o.SetAttr(kmip.AttributeNameLastChangeDate, now)
}

// activate implements the Activate operation: Pre-Active → Active.
func activate(o *Object, now time.Time) error {
	settle(o, now)
	if o.StoredState() != kmip.StatePreActive {
		return ErrWrongState
	}
	o.SetAttr(kmip.AttributeNameState, kmip.StateActive)
	o.SetAttr(kmip.AttributeNameActivationDate, now)
	touch(o, now)
	return nil
}

// revoke implements the Revoke operation. A compromise reason moves the object
// to Compromised (or Destroyed Compromised); any other reason deactivates an
// Active object.
func revoke(o *Object, now time.Time, reason kmip.RevocationReason, occurred time.Time) error {
	settle(o, now)
	compromise := reason.RevocationReasonCode == kmip.RevocationReasonCodeKeyCompromise ||
		reason.RevocationReasonCode == kmip.RevocationReasonCodeCACompromise
	switch s := o.StoredState(); {
	case compromise && s == kmip.StateDestroyed:
		o.SetAttr(kmip.AttributeNameState, kmip.StateDestroyedCompromised)
	case compromise && (s == kmip.StatePreActive || s == kmip.StateActive || s == kmip.StateDeactivated):
		o.SetAttr(kmip.AttributeNameState, kmip.StateCompromised)
	case !compromise && s == kmip.StateActive:
		o.SetAttr(kmip.AttributeNameState, kmip.StateDeactivated)
		if d := o.Date(kmip.AttributeNameDeactivationDate); d.IsZero() || d.After(now) {
			o.SetAttr(kmip.AttributeNameDeactivationDate, now)
		}
	default:
		return ErrWrongState
	}
	if compromise {
		o.SetAttr(kmip.AttributeNameCompromiseDate, now)
		if occurred.IsZero() {
			occurred = now
		}
		o.SetAttr(kmip.AttributeNameCompromiseOccurrenceDate, occurred)
	}
	o.SetAttr(kmip.AttributeNameRevocationReason, reason)
	touch(o, now)
	return nil
}

// destroy implements the Destroy operation. KMIP 1.4 §4.21: the object SHALL
// NOT be destroyed while Active; the key material is removed and the metadata
// kept.
func destroy(o *Object, now time.Time) error {
	settle(o, now)
	switch o.StoredState() {
	case kmip.StatePreActive, kmip.StateDeactivated:
		o.SetAttr(kmip.AttributeNameState, kmip.StateDestroyed)
	case kmip.StateCompromised:
		o.SetAttr(kmip.AttributeNameState, kmip.StateDestroyedCompromised)
	default:
		return ErrWrongState
	}
	o.Material = nil
	o.SetAttr(kmip.AttributeNameDestroyDate, now)
	touch(o, now)
	return nil
}
