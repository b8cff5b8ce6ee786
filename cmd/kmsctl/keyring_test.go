package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/devpki"
)

// startKeyringAdmin serves a fake cluster and keyring (version 1 sealing
// objects objects) as a node's gRPC port does; see serveAdmin.
func startKeyringAdmin(t *testing.T, objects int) (*admintest.FakeKeyring, []string) {
	t.Helper()
	devDir := t.TempDir()
	p, err := devpki.Ensure(filepath.Join(devDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := devpki.EnsureNode(p, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	adminCAs, err := devpki.LoadCerts(p.AdminCACert)
	if err != nil {
		t.Fatal(err)
	}
	nodeCAs, err := devpki.LoadCerts(p.NodeCACert)
	if err != nil {
		t.Fatal(err)
	}
	kr := admintest.NewFakeKeyring(objects)
	cfg := devpki.ServerConfig(cert, devpki.NewPool(append(slices.Clone(adminCAs), nodeCAs...)...))
	addr := admintest.ServeKeyring(t, admintest.NewFakeCluster(), kr, cfg, admintest.Options{AdminCAs: adminCAs, NodeCAs: nodeCAs})
	return kr, []string{"--admin", addr, "--dev-dir", devDir}
}

func TestOperatorKeyring(t *testing.T) {
	clearAdminEnv(t)
	kr, conn := startKeyringAdmin(t, 12)

	out := ok(t, conn, "operator", "keyring")
	if want := "VERSION  CREATED               OBJECTS  NEWEST\n1        2026-01-02T03:04:05Z  12       *\n"; out != want {
		t.Errorf("keyring table:\n%s\nwant:\n%s", out, want)
	}
	if out := ok(t, conn, "operator", "rotate"); !strings.HasPrefix(out, "data key version 2 created") || !strings.Contains(out, "kmsctl operator rewrap") {
		t.Errorf("rotate: %q", out)
	}
	if v := decodeJSON[map[string]uint32](t, ok(t, conn, "-o", "json", "operator", "rotate")); v["version"] != 3 {
		t.Errorf("rotate json: %v", v)
	}

	fails(t, conn, "version 1 still seals 12 objects; run `kmsctl operator rewrap` first", "operator", "retire", "1")
	fails(t, conn, "version 3 is the newest", "operator", "retire", "3")
	fails(t, conn, "version 7 is not in the keyring", "operator", "retire", "7")
	fails(t, conn, `invalid version "0"`, "operator", "retire", "0")
	fails(t, conn, `invalid version "one"`, "operator", "retire", "one")
	fails(t, conn, "--batch must not be negative", "operator", "rewrap", "--batch", "-1")

	// Rewrap: progress lines on stderr (not a terminal here), the summary
	// on stdout.
	stdout, stderr, code := kmsctl(t, append(slices.Clone(conn), "operator", "rewrap", "--batch", "5")...)
	if code != 0 {
		t.Fatalf("rewrap: exit %d, stderr %q", code, stderr)
	}
	wantProgress := []string{
		"rewrap to version 3: 5/12 objects (41%): 5 rewrapped, 0 already current, 0 skipped",
		"rewrap to version 3: 10/12 objects (83%): 10 rewrapped, 0 already current, 0 skipped",
		"rewrap to version 3: 12/12 objects (100%): 12 rewrapped, 0 already current, 0 skipped",
		"rewrap to version 3: 12/12 objects (100%): 12 rewrapped, 0 already current, 0 skipped",
	}
	if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); !slices.Equal(got, wantProgress) {
		t.Errorf("progress:\n%s\nwant:\n%s", stderr, strings.Join(wantProgress, "\n"))
	}
	if want := "rewrap done: 12 objects under data key version 3 (12 rewrapped now, 0 already current, 0 skipped)\n"; stdout != want {
		t.Errorf("rewrap summary %q, want %q", stdout, want)
	}
	kr.SetUnreadable(2)
	stdout, _, code = kmsctl(t, append(slices.Clone(conn), "-o", "json", "operator", "rewrap")...)
	final := decodeJSON[rewrapResult](t, stdout)
	if code != 0 || final != (rewrapResult{Version: 3, Total: 14, Current: 12, Skipped: 2, Done: true}) {
		t.Errorf("rewrap json: exit %d, %+v", code, final)
	}

	if out := ok(t, conn, "operator", "retire", "1"); !strings.HasPrefix(out, "data key version 1 retired") {
		t.Errorf("retire: %q", out)
	}
	if r := decodeJSON[map[string]uint32](t, ok(t, conn, "-o", "json", "operator", "retire", "2")); r["retired"] != 2 {
		t.Errorf("retire json: %v", r)
	}
	type version struct {
		Version uint32 `json:"version"`
		Created string `json:"created"`
		Objects int64  `json:"objects"`
		Newest  bool   `json:"newest"`
	}
	got := decodeJSON[struct {
		Versions   []version `json:"versions"`
		Unreadable int64     `json:"unreadable"`
	}](t, ok(t, conn, "-o", "json", "operator", "keyring"))
	if want := []version{{3, "2026-01-02T05:04:05Z", 12, true}}; !slices.Equal(got.Versions, want) || got.Unreadable != 2 {
		t.Errorf("keyring json %+v, want %+v and 2 unreadable", got, want)
	}
	if out := ok(t, conn, "operator", "keyring"); !strings.HasSuffix(out, "2 objects name no data key version this node reads\n") {
		t.Errorf("keyring table with unreadable objects:\n%s", out)
	}
	want := []string{"Keyring", "RotateKey dev-admin", "RotateKey dev-admin", "RetireKey 1 dev-admin", "RetireKey 3 dev-admin",
		"RetireKey 7 dev-admin", "Rewrap 5", "Rewrap 0", "RetireKey 1 dev-admin", "RetireKey 2 dev-admin", "Keyring", "Keyring"}
	if calls := kr.Calls(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

func TestOperatorKeyringErrors(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t) // no keyring
	fails(t, e.conn, "the node at "+e.addr+": this node has no keyring", "operator", "keyring")
	fails(t, e.conn, "this node has no keyring", "operator", "rewrap")

	kr, conn := startKeyringAdmin(t, 1)
	kr.SetError("RotateKey", errKeyringChanged)
	fails(t, conn, "the keyring changed while the command was in flight", "operator", "rotate")
	kr.SetError("Rewrap", errKeyringChanged)
	fails(t, conn, "the keyring changed while the command was in flight", "operator", "rewrap")
}

var errKeyringChanged = fmt.Errorf("%w: %w", cluster.ErrKeyringChanged, errors.New("fsm: object changed since; cannot undo"))

// TestProgressViewTerminal: on a terminal the progress is one line that
// updates in place and ends with a newline.
func TestProgressViewTerminal(t *testing.T) {
	var buf strings.Builder
	v := &progressView{w: &buf, terminal: true}
	v.show(rewrapResult{Version: 2, Total: 4, Rewrapped: 2})
	v.show(rewrapResult{Version: 2, Total: 4, Rewrapped: 3, Current: 1, Done: true})
	v.end()
	want := "\r\033[Krewrap to version 2: 2/4 objects (50%): 2 rewrapped, 0 already current, 0 skipped" +
		"\r\033[Krewrap to version 2: 4/4 objects (100%): 3 rewrapped, 1 already current, 0 skipped\n"
	if buf.String() != want {
		t.Errorf("terminal progress %q, want %q", buf.String(), want)
	}
	if newProgressView(&buf).terminal {
		t.Error("a buffer is not a terminal")
	}
}
