package e2e_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/e2e/harness"
	"github.com/kmsd/kmsd/fsm"
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
		// Get first: serving key material clears Fresh, a change of state,
		// written just after the answer.
		var so storedObject
		served := false
		if resp, err := c.Get(id).ExecContext(context.Background()); err == nil {
			so.material = keyMaterial(t, resp)
			served = true
		}
		so.attrs = mustExec(t, c.GetAttributes(id)).Attribute
		for deadline := time.Now().Add(10 * time.Second); served && stillFresh(so.attrs); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Fresh still set 10 s after the key was served", id)
			}
			time.Sleep(10 * time.Millisecond)
			so.attrs = mustExec(t, c.GetAttributes(id)).Attribute
		}
		out[id] = so
	}
	return out
}

func stillFresh(attrs []kmip.Attribute) bool {
	for _, a := range attrs {
		if a.AttributeName == kmip.AttributeNameFresh {
			return a.AttributeValue == true
		}
	}
	return false
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
	// The root key and the data keys, recovered here the way the file seal
	// protects them, must not be anywhere either.
	root, dataKeys := fileSealKeys(t, node.Dir)
	needles = append(needles, root)
	needles = append(needles, dataKeys...)
	for _, n := range needles {
		for _, form := range [][]byte{n, []byte(hex.EncodeToString(n)), []byte(base64.StdEncoding.EncodeToString(n))} {
			if bytes.Contains(node.Output(), form) {
				t.Error("the node's log holds key material, a root key or a data key")
			}
		}
	}

	scanned := 0
	err := filepath.WalkDir(node.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(node.Dir, path)
		// The file seal's unseal key and the TLS keys are secrets of their
		// own, not stored objects; seal.json holds the wrapped root key,
		// which fileSealKeys opened.
		if rel == "unseal.key" || strings.HasPrefix(rel, "pki"+string(filepath.Separator)) {
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
	// The audit log was among them, with a line for every Register and
	// Get above.
	audit, err := os.ReadFile(filepath.Join(node.Dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(audit, []byte(`"operation":"Get"`)); n < len(ids) {
		t.Errorf("the audit log holds %d Get lines, want at least %d", n, len(ids))
	}
}

// fileSealKeys opens a stopped node's root key with its file seal
// (unseal.key and seal.json) and its keyring's data keys from the newest
// Raft snapshot, following the formats of cluster/seal/DESIGN.md. It fails
// the test when anything does not open: the test then checks nothing.
func fileSealKeys(t *testing.T, dir string) (root []byte, dataKeys [][]byte) {
	t.Helper()
	unsealKey, err := os.ReadFile(filepath.Join(dir, "unseal.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "seal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Format      byte   `json:"format"`
		Method      string `json:"method"`
		ClusterID   string `json:"cluster_id"`
		WrappedRoot []byte `json:"wrapped_root"`
		RootEpoch   uint64 `json:"root_epoch"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	lp := func(b []byte, s string) []byte { return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...) }
	aad := append(lp(lp([]byte("kmsd/v1/root"), rec.ClusterID), rec.Method), rec.Format)
	if rec.RootEpoch > 0 {
		aad = binary.BigEndian.AppendUint64(aad, rec.RootEpoch)
	}
	open := func(key, blob, aad []byte) []byte {
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := gcm.Open(nil, blob[:12], blob[12:], aad)
		if err != nil {
			t.Fatalf("does not open as cluster/seal/DESIGN.md says: %v", err)
		}
		return pt
	}
	root = open(unsealKey, rec.WrappedRoot, aad)
	kr, err := hkdf.Key(sha256.New, root, nil, "kmsd keyring wrap v1"+rec.ClusterID, 32)
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "raft", "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Fatal("no raft snapshot to read the keyring from")
	}
	slices.Sort(snaps)
	f, err := os.Open(snaps[len(snaps)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	store := fsm.New(fsm.Config{})
	if err := store.Restore(f); err != nil {
		t.Fatal(err)
	}
	_, versions := store.ClusterState()
	for _, v := range versions {
		sealed, _ := store.DataKey(v)
		dkAAD := binary.BigEndian.AppendUint32(lp([]byte("kmsd/v1/datakey"), rec.ClusterID), v)
		dataKeys = append(dataKeys, open(kr, sealed[1:], append(dkAAD, sealed[0])))
	}
	if len(dataKeys) == 0 {
		t.Fatal("the snapshot holds no data key")
	}
	return root, dataKeys
}
