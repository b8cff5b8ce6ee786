package e2e_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// setWallClock sets the machine's realtime clock.
func setWallClock(at time.Time) error {
	ts := unix.NsecToTimespec(at.UnixNano())
	return unix.ClockSettime(unix.CLOCK_REALTIME, &ts)
}
