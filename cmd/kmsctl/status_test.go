package main

import (
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)

	out := ok(t, e.conn, "status")
	for _, want := range []string{
		"node:              " + e.addr,
		"id:                n1",
		"state:             leader",
		"leader:            n1 at 10.0.0.1:5697",
		"term:              3",
		"commit index:      42",
		"objects:           17",
		"voters:            2",
		"members:           3",
		"healthy:           yes",
		"failure tolerance: 0",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	j := decodeJSON[map[string]any](t, ok(t, e.conn, "status", "-o", "json"))
	if j["id"] != "n1" || j["leader_admin_address"] != "10.0.0.1:5697" || j["objects"] != float64(17) || j["healthy"] != true {
		t.Errorf("json = %v", j)
	}
}
