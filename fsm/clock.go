package fsm

import (
	"fmt"
	"strconv"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// The state machine's clock is the latest time a command applied at. A
// command applies at its proposer's time, to the second, unless that is
// earlier: proposers' clocks differ, and one can be stepped back, but the
// dates a command writes and the states it settles never go back behind
// what the store already holds. (A Re-key that copied an Activation Date
// from the future of a clock stepped back would otherwise store its
// replacement as Pre-Active, and an Active key would seem to start
// again.) Readers evaluate dates at Now, which never precedes the clock.

const metaClock = "clock"

// clockOf returns the store's clock; zero before the first command.
func clockOf(tx *memdb.Txn) time.Time {
	raw, err := tx.First(tableMeta, indexID, metaClock)
	if err != nil || raw == nil {
		return time.Time{}
	}
	s, err := strconv.ParseInt(raw.(*metaRow).Value, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// setClock moves the clock to t, which must not precede it.
func setClock(tx *memdb.Txn, t time.Time) error {
	return tx.Insert(tableMeta, &metaRow{Key: metaClock, Value: strconv.FormatInt(t.Unix(), 10)})
}

// Now returns the time at which a reader evaluates dates: local, or the
// store's clock if that is later.
func (f *FSM) Now(local time.Time) time.Time {
	if c := clockOf(f.readTxn()); c.After(local) {
		return c
	}
	return local
}

func clockRecord(tx *memdb.Txn) *kmsdpb.ControlRecord {
	c := clockOf(tx)
	if c.IsZero() {
		return nil
	}
	return &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_ClockUnixSeconds{ClockUnixSeconds: c.Unix()}}
}

func restoreClock(tx *memdb.Txn, s int64) error {
	if s <= 0 {
		return fmt.Errorf("clock %d", s)
	}
	return setClock(tx, time.Unix(s, 0))
}
