package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/kmip"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testHostConfig is a single bootstrapping node with the development PKI.
func testHostConfig(t *testing.T, opts seal.InitOptions) config {
	t.Helper()
	dir := t.TempDir()
	pki, err := devpki.Ensure(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := devpki.EnsureNode(pki, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		DataDir: filepath.Join(dir, "data"), NodeID: "node-1", Bootstrap: true, Seal: opts,
		KMIPAddr: freeAddr(t), AdminAddr: freeAddr(t), RaftAddr: freeAddr(t),
		MaxMessageSize: 1 << 20,
	}
	if err := loadTLS(&cfg, devTLSFiles(pki, cert, key), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serveHost starts a host on cfg, stopped at the end of the test, and
// waits until it serves.
func serveHost(t *testing.T, cfg config) *host {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h, err := start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.shutdown()
		cancel()
	})
	waitServing(t, h)
	return h
}

func waitServing(t *testing.T, h *host) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.available() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not serving after unseal: %v", h.available())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostSealLifecycle runs one node through seal and unseal under the race
// detector, with readers of its state running all the while: a sealed node
// holds no Raft node, no state machine and no keys, refuses KMIP, refuses a
// wrong passphrase without changing anything, and comes back with its data.
func TestHostSealLifecycle(t *testing.T) {
	pass := []byte("correct horse battery staple")
	cfg := testHostConfig(t, seal.InitOptions{Method: seal.MethodPassphrase, Passphrase: pass, Argon2: seal.Argon2Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}})
	h := serveHost(t, cfg)
	ctx := t.Context()
	if _, _, err := h.CreateJoinToken(ctx, time.Minute, "test"); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = h.available()
				_, _ = h.Status(ctx)
				_ = h.SealState()
				_, _ = h.Get("nothing")
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for round := range 2 {
		if err := h.Seal(ctx); err != nil {
			t.Fatal(err)
		}
		if st := h.SealState(); !st.Sealed || st.Method != "passphrase" {
			t.Fatalf("round %d: after Seal: %+v", round, st)
		}
		if !errors.Is(h.available(), kmip.ErrSealed) || h.node.Load() != nil || h.store.Load() != nil {
			t.Fatalf("round %d: a sealed node still runs Raft or serves", round)
		}
		if st, _ := h.Status(ctx); !st.Sealed || st.State != "sealed" {
			t.Fatalf("round %d: status %+v", round, st)
		}
		if _, err := h.Unseal(ctx, admin.UnsealInput{Passphrase: []byte("wrong horse battery staple")}); !errors.Is(err, seal.ErrWrongPassphrase) {
			t.Fatalf("round %d: wrong passphrase: %v", round, err)
		}
		if _, err := h.Unseal(ctx, admin.UnsealInput{Share: "kmsd-share1.x.1.AAAA"}); !errors.Is(err, seal.ErrWrongMethod) {
			t.Fatalf("round %d: a share for a passphrase node: %v", round, err)
		}
		if !h.barrier.Sealed() {
			t.Fatalf("round %d: refused input unsealed the node", round)
		}
		if _, err := h.Unseal(ctx, admin.UnsealInput{Passphrase: pass}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		waitServing(t, h)
		if n := h.store.Load().JoinTokens(time.Now()); n != 1 {
			t.Errorf("round %d: the state after unsealing holds %d join tokens, want the 1 created before", round, n)
		}
		if _, err := h.Unseal(ctx, admin.UnsealInput{Passphrase: pass}); !errors.Is(err, seal.ErrAlreadyUnsealed) {
			t.Errorf("round %d: unseal of an unsealed node: %v", round, err)
		}
	}
}

// TestHostMigratesLegacyNodeKey: a data folder from before the keyring keeps
// its data key in clear in node.key, and its objects are sealed with it in
// the legacy format. Started, the node makes node.key keyring version 1
// under a new root key, removes the file, and still opens those objects.
func TestHostMigratesLegacyNodeKey(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	key := bytes.Repeat([]byte{7}, 32)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, legacyKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	h := serveHost(t, cfg)
	if fileExists(filepath.Join(cfg.DataDir, legacyKeyFile)) {
		t.Error("the plaintext node.key is still there")
	}
	if v, _, ok := h.store.Load().LatestDataKey(); !ok || v != 1 {
		t.Fatalf("keyring: version %d, %v", v, ok)
	}
	// A legacy blob: 0x01 | nonce | AES-256-GCM under node.key, AAD
	// "kmsd/v1/object:" + id.
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	legacy := gcm.Seal(append([]byte{1}, nonce...), nonce, []byte("old material"), []byte("kmsd/v1/object:old-1"))
	pt, err := h.barrier.OpenObject(seal.Binding{ID: "old-1", Owner: "alice"}, legacy)
	if err != nil || string(pt) != "old material" {
		t.Fatalf("a legacy object does not open after the migration: %q, %v", pt, err)
	}
}

// TestHostStartReturnsBringUpError: when Raft cannot come up (here the
// raft folder is a file), start shuts down what it opened and returns the
// error. It used to deadlock instead: it held h.mu while shutdown, which
// takes h.mu, ran, so a node with an unreadable store hung after logging
// "shutting down" and never exited.
func TestHostStartReturnsBringUpError(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "raft"), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		h, err := start(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if h != nil {
			h.shutdown()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("start succeeded with a file in place of the raft folder")
		}
		t.Logf("start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("start neither returned nor failed within a minute of a bring-up error")
	}
	// The listeners were closed: the ports can be bound again.
	for _, addr := range []string{cfg.KMIPAddr, cfg.AdminAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s still in use after the failed start: %v", addr, err)
			continue
		}
		ln.Close()
	}
}

// An advertise address that peers cannot dial is refused at start.
func TestHostRefusesBadAdvertise(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:5697", "127.0.0.1:0", "no-port"} {
		cfg := testHostConfig(t, seal.InitOptions{})
		cfg.AdminAdvertise = bad
		if h, err := start(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil {
			h.shutdown()
			t.Errorf("--admin-advertise %q accepted", bad)
		}
		cfg = testHostConfig(t, seal.InitOptions{})
		cfg.RaftAdvertise = bad
		if h, err := start(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil {
			h.shutdown()
			t.Errorf("--raft-advertise %q accepted", bad)
		}
	}
}
