package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		850 * time.Microsecond:             "850µs",
		12345 * time.Microsecond:           "12ms",
		4240 * time.Millisecond:            "4.2s",
		90 * time.Second:                   "1m30s",
		3 * time.Minute:                    "3m",
		2*time.Hour + 15*time.Minute:       "2h15m",
		2*time.Hour + 15*time.Minute + 400: "2h15m",
		time.Hour:                          "1h",
		25*time.Hour + 5*time.Second:       "25h0m5s",
		-3 * time.Minute:                   "-3m",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
	if got := secondsText(135); got != "2m15s" {
		t.Errorf("secondsText(135) = %q", got)
	}
	if got := contactText(int64(1500 * time.Millisecond)); got != "1.5s" {
		t.Errorf("contactText = %q", got)
	}
}

// Durations in command output read as durations, not bare numbers.
func TestDurationsInOutput(t *testing.T) {
	var b bytes.Buffer
	r := benchResult{Connections: 2, Targets: []string{"a:1"}, Mix: "get=1", Seconds: 135.02, WarmupSeconds: 2,
		Operations: []opResult{{Op: "get"}}, Preload: &preloadResult{Keys: 10, NamePrefix: "k", Seconds: 0.25}}
	if err := r.writeText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"in 250ms (", ": 2m15s measured after 2s warm-up"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("bench output %q lacks %q", b.String(), want)
		}
	}

	b.Reset()
	tok := tokenResult{Token: "t", Expires: time.Date(2030, 1, 1, 0, 10, 0, 0, time.UTC), ttl: 10 * time.Minute}
	if err := tok.writeText(&b); err != nil || !strings.Contains(b.String(), "until 2030-01-01T00:10:00Z (10m from now)") {
		t.Errorf("token output %q, %v", b.String(), err)
	}

	// Lease Time is an Interval: the real service sets one hour.
	clearEnv(t)
	conn := startRealKMS(t)
	id := strings.TrimSpace(ok(t, conn, "key", "create"))
	if a := attrsJSON(t, conn, id); a["Lease Time"] != "1h" {
		t.Errorf("Lease Time = %#v, want \"1h\"", a["Lease Time"])
	}
	out := ok(t, conn, "key", "attributes", id, "--name", "Lease Time")
	if !regexpMatch(`Lease Time\s+0\s+1h\n`, out) {
		t.Errorf("table %q", out)
	}
}
