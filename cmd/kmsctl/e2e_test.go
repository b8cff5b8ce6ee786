package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipserver"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// clearEnv keeps the developer's KMSCTL_* settings out of the tests.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, e := range []string{envServer, envCA, envCert, envKey, envDevDir} {
		t.Setenv(e, "")
	}
}

// kmsctl runs the command in-process and returns stdout, stderr and the
// exit code.
func kmsctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	t.Logf("kmsctl %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// ok runs kmsctl with the connection flags, fails the test unless it
// succeeds and returns stdout.
func ok(t *testing.T, conn []string, args ...string) string {
	t.Helper()
	out, errOut, code := kmsctl(t, append(slices.Clone(conn), args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("kmsctl %v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// fails runs kmsctl, expects exit code 1 and one stderr line containing
// want, and nothing on stdout.
func fails(t *testing.T, conn []string, want string, args ...string) {
	t.Helper()
	out, errOut, code := kmsctl(t, append(slices.Clone(conn), args...)...)
	if code != 1 {
		t.Fatalf("kmsctl %v: exit %d, want 1", args, code)
	}
	if !strings.HasPrefix(errOut, "kmsctl: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
		t.Errorf("kmsctl %v: stderr %q, want one line with %q", args, errOut, want)
	}
	if out != "" {
		t.Errorf("kmsctl %v: stdout %q, want nothing", args, out)
	}
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return v
}

func TestKeyLifecycle(t *testing.T) {
	clearEnv(t)
	addr, devDir, _ := startFakeKMS(t)
	conn := []string{"--server", addr, "--dev-dir", devDir}
	js := append(slices.Clone(conn), "-o", "json")

	id := strings.TrimSpace(ok(t, conn, "key", "create", "--name", "disk-1", "--group", "vm"))
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("create printed %q, want one id", id)
	}

	got := decodeJSON[map[string]any](t, ok(t, js, "key", "get", id))
	if got["id"] != id || got["object_type"] != "symmetric-key" || got["algorithm"] != "AES" || got["length"] != 256.0 {
		t.Errorf("get = %v", got)
	}
	if m, _ := got["material_hex"].(string); len(m) != 64 {
		t.Errorf("material_hex = %q, want 32 bytes of hex", m)
	}
	text := ok(t, conn, "key", "get", id, "--format", "transparent")
	if !strings.Contains(text, "format:") || !strings.Contains(text, "transparent-symmetric-key") || !strings.Contains(text, got["material_hex"].(string)) {
		t.Errorf("get --format transparent:\n%s", text)
	}

	other := decodeJSON[map[string]any](t, ok(t, js, "key", "create", "--alg", "HMAC-SHA256", "--activate"))
	otherID, _ := other["id"].(string)
	if otherID == "" || other["activated"] != true {
		t.Fatalf("create --activate = %v", other)
	}

	if ids := strings.Fields(ok(t, conn, "key", "locate", "--name", "disk-1")); !slices.Equal(ids, []string{id}) {
		t.Errorf("locate --name = %v, want [%s]", ids, id)
	}
	if ids := strings.Fields(ok(t, conn, "key", "locate", "--state", "active")); !slices.Equal(ids, []string{otherID}) {
		t.Errorf("locate --state active = %v, want [%s]", ids, otherID)
	}
	loc := decodeJSON[map[string]any](t, ok(t, js, "key", "locate", "--type", "symmetric-key", "--alg", "AES", "--length", "256", "--group", "vm", "--state", "pre-active"))
	if ids, _ := loc["ids"].([]any); len(ids) != 1 || ids[0] != id {
		t.Errorf("locate json = %v", loc)
	}
	loc = decodeJSON[map[string]any](t, ok(t, js, "key", "locate", "--max", "1", "--offset", "1"))
	if ids, _ := loc["ids"].([]any); len(ids) != 1 || loc["located_items"] != 2.0 {
		t.Errorf("locate --max 1 --offset 1 = %v", loc)
	}

	if out := ok(t, conn, "key", "activate", id); out != "activated "+id+"\n" {
		t.Errorf("activate printed %q", out)
	}
	fails(t, conn, "wrong key lifecycle state", "key", "activate", id)

	attrs := decodeJSON[[]attrRow](t, ok(t, js, "key", "attributes", id))
	byName := map[string]any{}
	for _, a := range attrs {
		byName[a.Name] = a.Value
	}
	for name, want := range map[string]any{
		"State":                    "Active",
		"Cryptographic Algorithm":  "AES",
		"Cryptographic Length":     256.0,
		"Cryptographic Usage Mask": "Encrypt|Decrypt",
		"Object Group":             "vm",
	} {
		if byName[name] != want {
			t.Errorf("attribute %q = %#v, want %#v", name, byName[name], want)
		}
	}
	if n, _ := byName["Name"].(map[string]any); n["NameValue"] != "disk-1" {
		t.Errorf("Name = %#v", byName["Name"])
	}
	if d, _ := byName["Activation Date"].(string); !strings.Contains(d, "T") {
		t.Errorf("Activation Date = %#v, want RFC 3339", byName["Activation Date"])
	}
	table := ok(t, conn, "key", "attributes", id, "--name", "State", "--name", "Cryptographic Length")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(table, "Active") || !strings.Contains(table, "256") {
		t.Errorf("attributes table:\n%s", table)
	}

	fails(t, conn, "wrong key lifecycle state", "key", "destroy", id)
	if out := ok(t, conn, "key", "revoke", id, "--reason", "key-compromise", "--message", "lost laptop"); out != "revoked "+id+"\n" {
		t.Errorf("revoke printed %q", out)
	}
	if st := decodeJSON[[]attrRow](t, ok(t, js, "key", "attributes", id, "--name", "State")); len(st) != 1 || st[0].Value != "Compromised" {
		t.Errorf("state after key-compromise revoke = %v", st)
	}
	res := decodeJSON[map[string]any](t, ok(t, js, "key", "revoke", otherID, "--reason", "superseded"))
	if res["id"] != otherID || res["status"] != "revoked" {
		t.Errorf("revoke json = %v", res)
	}
	ok(t, conn, "key", "destroy", otherID)
	fails(t, conn, "key value not present", "key", "get", otherID)
	fails(t, conn, "get nope: item not found", "key", "get", "nope")
}

// A server that does not apply the ID Placeholder across a batch still
// gets its key activated, by a second request.
func TestCreateActivateFallback(t *testing.T) {
	clearEnv(t)
	addr, devDir, kms := startFakeKMS(t)
	kms.ignorePlaceholder.Store(true)
	conn := []string{"--server", addr, "--dev-dir", devDir}
	id := strings.TrimSpace(ok(t, conn, "key", "create", "--activate"))
	if ids := strings.Fields(ok(t, conn, "key", "locate", "--state", "active")); !slices.Equal(ids, []string{id}) {
		t.Errorf("active keys = %v, want [%s]", ids, id)
	}
}

func TestKeyRegister(t *testing.T) {
	clearEnv(t)
	addr, devDir, _ := startFakeKMS(t)
	conn := []string{"--server", addr, "--dev-dir", devDir, "-o", "json"}

	material := "000102030405060708090a0b0c0d0e0f"
	id := decodeJSON[map[string]string](t, ok(t, conn, "key", "register", "--hex", material, "--name", "imported"))["id"]
	got := decodeJSON[map[string]any](t, ok(t, conn, "key", "get", id))
	if got["material_hex"] != material || got["length"] != 128.0 || got["algorithm"] != "AES" {
		t.Errorf("get registered key = %v", got)
	}

	file := filepath.Join(t.TempDir(), "secret.bin")
	writeFile(t, file, []byte("hunter2"))
	id = decodeJSON[map[string]string](t, ok(t, conn, "key", "register", "--type", "secret", "--file", file))["id"]
	got = decodeJSON[map[string]any](t, ok(t, conn, "key", "get", id))
	if got["object_type"] != "secret-data" || got["material_hex"] != hex.EncodeToString([]byte("hunter2")) {
		t.Errorf("get secret = %v", got)
	}

	id = decodeJSON[map[string]string](t, ok(t, conn, "key", "register", "--type", "opaque", "--hex", "cafe"))["id"]
	if got := decodeJSON[map[string]any](t, ok(t, conn, "key", "get", id)); got["material_hex"] != "cafe" || got["object_type"] != "opaque-object" {
		t.Errorf("get opaque = %v", got)
	}

	fails(t, conn, "does not match", "key", "register", "--hex", material, "--length", "256")
	fails(t, conn, "either --file or --hex", "key", "register", "--hex", "00", "--file", file)
	fails(t, conn, "give --file or --hex", "key", "register")
	fails(t, conn, "not a hex string", "key", "register", "--hex", "xyz")
}

func TestConnectionErrors(t *testing.T) {
	clearEnv(t)
	addr, devDir, _ := startFakeKMS(t)

	other, err := devpki.Ensure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A client certificate from another CA is refused by the server.
	fails(t, []string{"--server", addr, "--dev-dir", devDir, "--cert", other.ClientCert, "--key", other.ClientKey},
		"cannot connect to "+addr, "key", "locate")
	// A server certificate from another CA is refused by the client.
	fails(t, []string{"--server", addr, "--dev-dir", devDir, "--ca", other.CACert},
		"certificate signed by unknown authority", "key", "locate")
	fails(t, []string{"--server", "127.0.0.1:1", "--dev-dir", devDir}, "no server at 127.0.0.1:1: is kmsd running?", "key", "locate")
	fails(t, []string{"--dev-dir", t.TempDir()}, "cannot read CA certificate", "key", "locate")

	// Every pinned protocol version works against the fake server.
	for _, v := range []string{"1.0", "1.2", "1.4"} {
		ok(t, []string{"--server", addr, "--dev-dir", devDir, "--kmip-version", v}, "key", "create")
	}
	fails(t, []string{"--server", addr, "--dev-dir", devDir, "--kmip-version", "1.2"}, "--offset needs KMIP 1.3", "key", "locate", "--offset", "1")

	// Environment variables stand in for flags.
	t.Setenv(envServer, addr)
	t.Setenv(envDevDir, devDir)
	ok(t, nil, "key", "locate")
}

// A KMIP 1.0 server does not know Discover Versions; kmsctl falls back to
// 1.0 (Discover Versions is a KMIP 1.1 addition).
func TestNegotiateWithKMIP10Server(t *testing.T) {
	clearEnv(t)
	notSupported := kmipserver.HandleFunc(
		func(context.Context, *payloads.DiscoverVersionsRequestPayload) (*payloads.DiscoverVersionsResponsePayload, error) {
			return nil, kmipserver.ErrOperationNotSupported
		})
	for name, configure := range map[string]func(*kmipserver.BatchExecutor){
		// Accepts the 1.1 header, does not know the operation.
		"operation not supported": func(exec *kmipserver.BatchExecutor) {
			exec.Route(kmip.OperationDiscoverVersions, notSupported)
		},
		// Rejects the 1.1 header.
		"invalid message": func(exec *kmipserver.BatchExecutor) {
			exec.SetSupportedProtocolVersions(kmip.V1_0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			addr, devDir, _ := startFakeKMSWith(t, configure)
			conn := []string{"--server", addr, "--dev-dir", devDir}
			ok(t, conn, "key", "create")
			fails(t, conn, "the connection uses 1.0", "key", "locate", "--offset", "1")
		})
	}
	// Pinning a version the server does not speak is a KMIP error.
	addr, devDir, _ := startFakeKMSWith(t, func(exec *kmipserver.BatchExecutor) {
		exec.SetSupportedProtocolVersions(kmip.V1_0)
	})
	fails(t, []string{"--server", addr, "--dev-dir", devDir, "--kmip-version", "1.4"}, "invalid message", "key", "create")
}

// A server that accepts TCP but never answers runs into --timeout.
func TestTimeout(t *testing.T) {
	clearEnv(t)
	_, devDir, _ := startFakeKMS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	fails(t, []string{"--server", ln.Addr().String(), "--dev-dir", devDir, "--timeout", "300ms"},
		"cannot connect to "+ln.Addr().String()+": timed out", "key", "locate")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with --timeout 300ms", d)
	}
}
