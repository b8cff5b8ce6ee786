package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster"
)

func TestClusterMembers(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)

	out := ok(t, e.conn, "cluster", "members")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rows, got:\n%s", out)
	}
	for i, want := range [][]string{
		{"ID", "ADDRESS", "ADMIN", "KMIP", "SUFFRAGE", "LEADER", "GOSSIP", "HEALTHY", "LAST", "CONTACT", "APPLIED"},
		{"n1", "10.0.0.1:7000", "10.0.0.1:5697", "10.0.0.1:5696", "voter", "*", "alive", "yes", "0s", "42"},
		{"n2", "10.0.0.2:7000", "10.0.0.2:5697", "10.0.0.2:5696", "voter", "alive", "yes", "12ms", "41"},
		{"n3", "10.0.0.3:7000", "10.0.0.3:5697", "10.0.0.3:5696", "nonvoter", "suspect", "no", "-", "7"},
	} {
		if got := strings.Fields(lines[i]); !slices.Equal(got, want) {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], want)
		}
	}
	// The LEADER column lines up under its header.
	if col := strings.Index(lines[0], "LEADER"); lines[1][col] != '*' {
		t.Errorf("leader mark not under LEADER:\n%s", out)
	}

	type member struct {
		ID          string `json:"id"`
		RaftAddress string `json:"raft_address"`
		Leader      bool   `json:"leader"`
		Healthy     bool   `json:"healthy"`
		LastContact int64  `json:"last_contact_ns"`
		Applied     uint64 `json:"applied_index"`
		Version     string `json:"version"`
	}
	got := decodeJSON[struct{ Members []member }](t, ok(t, e.conn, "cluster", "members", "-o", "json"))
	want := []member{
		{"n1", "10.0.0.1:7000", true, true, 0, 42, "v1.0.0"},
		{"n2", "10.0.0.2:7000", false, true, 12_000_000, 41, "v1.0.0"},
		{"n3", "10.0.0.3:7000", false, false, -1, 7, "v1.0.0"},
	}
	if !slices.Equal(got.Members, want) {
		t.Errorf("json members = %+v, want %+v", got.Members, want)
	}
}

func TestClusterJoinRemoveTransfer(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)

	if out := ok(t, e.conn, "cluster", "join", "10.0.0.9:5697", "--token", "kmsd-join-t"); out != "node "+e.addr+" joined the cluster via 10.0.0.9:5697\n" {
		t.Errorf("join: %q", out)
	}
	if out := ok(t, e.conn, "cluster", "remove", "n3"); out != "removed n3\n" {
		t.Errorf("remove: %q", out)
	}
	if out := ok(t, e.conn, "cluster", "transfer-leader", "n2"); out != "leadership transferred to n2\n" {
		t.Errorf("transfer-leader n2: %q", out)
	}
	if out := ok(t, e.conn, "cluster", "transfer-leader"); out != "leadership transferred to a suitable voter\n" {
		t.Errorf("transfer-leader: %q", out)
	}
	out := ok(t, e.conn, "cluster", "token", "create", "--ttl", "5m")
	if !strings.HasPrefix(out, admintest.FakeJoinToken+"\n") || !strings.Contains(out, "--join-token "+admintest.FakeJoinToken) {
		t.Errorf("token create: %q", out)
	}
	tok := decodeJSON[map[string]string](t, ok(t, e.conn, "-o", "json", "cluster", "token", "create"))
	if tok["token"] != admintest.FakeJoinToken || tok["expires"] == "" {
		t.Errorf("token create json: %v", tok)
	}
	j := decodeJSON[map[string]string](t, ok(t, e.conn, "-o", "json", "cluster", "remove", "n2"))
	if j["removed"] != "n2" {
		t.Errorf("remove json: %v", j)
	}
	want := []string{"Join 10.0.0.9:5697 kmsd-join-t", "Remove n3", "TransferLeadership n2", "TransferLeadership ",
		"CreateJoinToken 5m0s dev-admin", "CreateJoinToken 10m0s dev-admin", "Remove n2"}
	if got := e.fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	fails(t, e.conn, "accepts 1 arg", "cluster", "remove")
}

func TestClusterErrors(t *testing.T) {
	clearAdminEnv(t)
	tests := []struct {
		name   string
		method string
		err    error
		status cluster.Status
		args   []string
		want   string
	}{
		{"no leader", "Members", cluster.ErrNoLeader, cluster.Status{}, []string{"cluster", "members"}, "kmsctl: no leader\n"},
		{"join token refused", "Join", fmt.Errorf("%w: join token expired", cluster.ErrJoinRefused), cluster.Status{},
			[]string{"cluster", "join", "10.9.9.9:5697", "--token", "kmsd-join-t"},
			"kmsctl: join refused: join token expired (create a new one with `kmsctl cluster token create`)\n"},
		{"token ttl out of range", "CreateJoinToken", fmt.Errorf("%w: a join token lives between 30s and 24h0m0s", cluster.ErrInvalidArgument), cluster.Status{},
			[]string{"cluster", "token", "create", "--ttl", "1s"}, "kmsctl: invalid argument: a join token lives between 30s and 24h0m0s\n"},
		{"join target unreachable", "Join", cluster.ErrUnreachable, cluster.Status{},
			[]string{"cluster", "join", "10.9.9.9:5697", "--token", "kmsd-join-t"}, "kmsctl: node unreachable: 10.9.9.9:5697\n"},
		{"join without a token", "", nil, cluster.Status{},
			[]string{"cluster", "join", "10.9.9.9:5697"}, "kmsctl: joining needs a join token: run `kmsctl cluster token create` against a member and pass it with --token\n"},
		{"not the leader", "Remove", cluster.ErrNotLeader, cluster.Status{LeaderID: "n1", LeaderAdminAddr: "10.0.0.1:5697"},
			[]string{"cluster", "remove", "n2"}, "kmsctl: not the leader; leader is n1 at 10.0.0.1:5697 (use --admin 10.0.0.1:5697)\n"},
		{"leader unknown", "TransferLeadership", cluster.ErrNotLeader, cluster.Status{},
			[]string{"cluster", "transfer-leader"}, "kmsctl: not the leader; leader unknown\n"},
		{"unknown member", "Remove", cluster.ErrUnknownMember, cluster.Status{}, []string{"cluster", "remove", "zz"}, "kmsctl: no such member: zz\n"},
		{"internal", "Members", errors.New("bolt: page 7 corrupt at /var/lib/kmsd"), cluster.Status{},
			[]string{"cluster", "members"}, "kmsctl: server error (internal error)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startAdmin(t)
			e.fake.SetStatus(tt.status)
			e.fake.SetError(tt.method, tt.err)
			out, errOut, code := kmsctl(t, append(slices.Clone(e.conn), tt.args...)...)
			if code != 1 || out != "" || errOut != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and stderr %q", code, out, errOut, tt.want)
			}
		})
	}
}
