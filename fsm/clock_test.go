package fsm

import (
	"bytes"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
)

// A command proposed with a clock behind the store's (another node's clock,
// or one stepped back) applies at the store's clock: a Re-key of an Active
// key that copies its Activation Date makes an Active replacement, whose
// dates do not precede the existing key's. Snapshots keep the clock.
func TestClockNeverGoesBack(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))
	f.mustApply(activateEntry(t, alice, t0.Add(time.Minute), "k"))
	behind := t0.Add(-time.Hour)
	activated := t0.Add(time.Minute).Truncate(time.Second) // commands apply to the second
	f.mustApply(rekeyEntry(t, alice, behind, rekeyBody("k", "r")))

	r := f.get("r")
	if s := r.StoredState(); s != kmip.StateActive {
		t.Errorf("replacement of an Active key re-keyed with a clock an hour behind is %v, want Active", s)
	}
	if d := r.Date(kmip.AttributeNameInitialDate); d.Before(activated) {
		t.Errorf("replacement Initial Date %v precedes the existing key's activation %v", d, activated)
	}
	if got := f.Now(behind); !got.Equal(activated) {
		t.Errorf("Now(an hour behind) = %v, want the store's clock %v", got, activated)
	}
	if later := t0.Add(time.Hour); !f.Now(later).Equal(later) {
		t.Errorf("Now(later than the clock) = %v, want %v", f.Now(later), later)
	}

	var buf bytes.Buffer
	if err := f.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	g := New(Config{})
	if err := g.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if got := g.Now(time.Time{}); !got.Equal(activated) {
		t.Errorf("restored clock %v, want %v", got, activated)
	}
}
