package main

import (
	"strings"
	"time"
)

// durationText prints a duration the way an operator reads one: "3m",
// "2h15m", "1m30s", "4.2s", "850ms". Above a minute it is rounded to the
// second, above a second to a tenth of a second; zero units at the end are
// dropped ("2h15m0s" is "2h15m").
func durationText(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Minute:
		d = d.Round(time.Second)
	case a >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case a >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// secondsText is durationText for a count of seconds.
func secondsText(s float64) string {
	return durationText(time.Duration(s * float64(time.Second)))
}
