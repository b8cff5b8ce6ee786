package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/e2e/harness"
)

// storedObject is what a client can observe of one object.
type storedObject struct {
	attrs    []kmip.Attribute
	material []byte // nil once destroyed
}

// populate creates and registers a mix of objects in several states and
// returns their ids and the plaintext of every key it knows.
func populate(t *testing.T, c *kmipclient.Client, n int) (ids []string, secrets [][]byte) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		resp, err := c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).
			WithName(fmt.Sprintf("restart-%d", i)).
			WithAttribute("x-NETAPP-ClusterName", fmt.Sprintf("cluster-%d", i%3)).
			ExecContext(ctx)
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		ids = append(ids, resp.UniqueIdentifier)
		switch i % 4 {
		case 1:
			mustExec(t, c.Activate(resp.UniqueIdentifier))
		case 2:
			mustExec(t, c.Activate(resp.UniqueIdentifier))
			mustExec(t, c.Revoke(resp.UniqueIdentifier).WithRevocationReasonCode(kmip.RevocationReasonCodeSuperseded))
		case 3:
			mustExec(t, c.Destroy(resp.UniqueIdentifier))
		}
	}
	for i := range n / 2 {
		secret := bytes.Repeat([]byte{byte(0xA0 + i%16)}, 24)
		copy(secret, fmt.Sprintf("known-secret-%04d", i))
		secrets = append(secrets, secret)
		resp, err := c.Register().SecretString(kmip.SecretDataTypePassword, string(secret)).ExecContext(ctx)
		if err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
		ids = append(ids, resp.UniqueIdentifier)
	}
	return ids, secrets
}

type executor[Resp any] interface {
	ExecContext(ctx context.Context) (Resp, error)
}

func mustExec[Resp any](t *testing.T, ex executor[Resp]) Resp {
	t.Helper()
	r, err := ex.ExecContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// observe reads every object's attributes and material.
func observe(t *testing.T, c *kmipclient.Client, ids []string) map[string]storedObject {
	t.Helper()
	out := map[string]storedObject{}
	for _, id := range ids {
		// Get first: serving key material clears Fresh, a change of state.
		var so storedObject
		if resp, err := c.Get(id).ExecContext(context.Background()); err == nil {
			so.material = keyMaterial(t, resp)
		}
		so.attrs = mustExec(t, c.GetAttributes(id)).Attribute
		out[id] = so
	}
	return out
}

func keyMaterial(t *testing.T, resp *payloads.GetResponsePayload) []byte {
	t.Helper()
	switch resp.ObjectType {
	case kmip.ObjectTypeSymmetricKey:
		b, err := resp.SymmetricKey()
		if err != nil {
			t.Fatal(err)
		}
		return b
	case kmip.ObjectTypeSecretData:
		b, err := resp.Secret()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("unexpected object type %v", resp.ObjectType)
	return nil
}

// TestRestartAfterKill: objects created before a SIGKILL are all there, with
// identical attributes and material, after the node restarts — both from the
// log alone and from a snapshot plus the log.
func TestRestartAfterKill(t *testing.T) {
	node := harness.StartDev(t, "", "--snapshot-threshold", "16", "--snapshot-interval", "200ms")
	c := node.Client(t)
	ids, _ := populate(t, c, 24)
	before := observe(t, c, ids)
	waitForSnapshot(t, node.Dir)
	// Written after the snapshot: these come back from the log tail.
	more, _ := populate(t, c, 4)
	ids = append(ids, more...)
	for id, so := range observe(t, c, more) {
		before[id] = so
	}

	node.Kill()
	node.Restart(t)
	after := observe(t, node.Client(t), ids)
	for _, id := range ids {
		b, a := before[id], after[id]
		if !reflect.DeepEqual(b.attrs, a.attrs) {
			t.Errorf("%s: attributes changed across restart:\nbefore %v\nafter  %v", id, b.attrs, a.attrs)
		}
		if !bytes.Equal(b.material, a.material) {
			t.Errorf("%s: key material changed across restart", id)
		}
	}
}

func waitForSnapshot(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin"))
		if len(m) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no raft snapshot was written within 30s")
}

// TestNoPlaintextKeyMaterialOnDisk greps every file the node wrote (the bolt
// log, snapshots, metadata) for the key material it stores, raw, hex and
// base64 encoded.
func TestNoPlaintextKeyMaterialOnDisk(t *testing.T) {
	node := harness.StartDev(t, "", "--snapshot-threshold", "8", "--snapshot-interval", "200ms")
	c := node.Client(t)
	ids, secrets := populate(t, c, 16)
	waitForSnapshot(t, node.Dir)
	var needles [][]byte
	for _, so := range observe(t, c, ids) {
		if so.material != nil {
			needles = append(needles, so.material)
		}
	}
	needles = append(needles, secrets...)
	if len(needles) < 16 {
		t.Fatalf("only %d keys to look for", len(needles))
	}
	node.Stop()

	scanned := 0
	err := filepath.WalkDir(node.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(node.Dir, path)
		// The node key and TLS keys are secrets of their own, not stored objects.
		if rel == "node.key" || strings.HasPrefix(rel, "pki"+string(filepath.Separator)) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, n := range needles {
			for _, form := range [][]byte{n, []byte(hex.EncodeToString(n)), []byte(base64.StdEncoding.EncodeToString(n))} {
				if bytes.Contains(data, form) {
					t.Errorf("%s holds key material in plaintext", rel)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 3 {
		t.Fatalf("scanned only %d files; expected the bolt log and snapshot files", scanned)
	}
}
