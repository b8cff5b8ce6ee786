package fsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func envAt(at time.Time) *kmsdpb.Command { return env("operator", at) }

func mustEntry(t testing.TB) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func TestJoinTokens(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	create := func(name string, at time.Time, ttl time.Duration) error {
		return f.apply(must(f.EncodeCreateJoinToken(envAt(at), tokenHash(name), at.Add(ttl)))).Err
	}
	consume := func(name, node string, at time.Time) error {
		return f.apply(must(f.EncodeConsumeJoinToken(envAt(at), tokenHash(name), node))).Err
	}
	if err := create("a", t0, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := create("b", t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := create("a", t0, time.Minute); !errors.Is(err, ErrExists) {
		t.Errorf("same token twice: %v, want ErrExists", err)
	}
	if err := create("c", t0, 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("token that is expired at creation: %v, want ErrMalformed", err)
	}
	if got := f.JoinTokens(t0); got != 2 {
		t.Errorf("live tokens %d, want 2", got)
	}

	steps := []struct {
		name, token string
		at          time.Time
		want        error
	}{
		{"unknown token", "nope", t0, ErrTokenUnknown},
		{"expired token", "b", t0.Add(time.Minute), ErrTokenExpired},
		{"valid token", "a", t0.Add(time.Minute), nil},
		{"used token", "a", t0.Add(2 * time.Minute), ErrTokenUnknown},
	}
	for _, s := range steps {
		if err := consume(s.token, "n9", s.at); !errors.Is(err, s.want) {
			t.Errorf("%s: %v, want %v", s.name, err, s.want)
		}
	}
	// A later token drops the expired one.
	if err := create("d", t0.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := f.JoinTokens(t0); got != 1 {
		t.Errorf("live tokens after pruning %d, want 1", got)
	}
}

func TestJoinTokenLimit(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	for i := range maxJoinTokens {
		if err := f.apply(must(f.EncodeCreateJoinToken(envAt(t0), tokenHash(string(rune(i))+"x"), t0.Add(time.Hour)))).Err; err != nil {
			t.Fatal(err)
		}
	}
	if err := f.apply(must(f.EncodeCreateJoinToken(envAt(t0), tokenHash("last"), t0.Add(time.Hour)))).Err; !errors.Is(err, ErrTooManyTokens) {
		t.Fatalf("token beyond the limit: %v, want ErrTooManyTokens", err)
	}
}

// sealedWith fakes a format-2 blob naming a data key version, as the seal
// package writes them.
func sealedWith(version uint32, tail string) []byte {
	return append([]byte{2, byte(version >> 24), byte(version >> 16), byte(version >> 8), byte(version)}, []byte(tail+"-nonce-and-ciphertext-padding")...)
}

func TestKeyring(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	add := func(cluster string, v uint32) error {
		return f.apply(must(f.EncodeAddDataKey(envAt(t0), cluster, v, []byte("sealed-key")))).Err
	}
	retire := func(v uint32) error { return f.apply(must(f.EncodeRetireDataKey(envAt(t0), v))).Err }

	if err := add("c1", 2); !errors.Is(err, ErrConflict) {
		t.Errorf("first version 2: %v, want ErrConflict", err)
	}
	if err := add("c1", 1); err != nil {
		t.Fatal(err)
	}
	if f.ClusterID() != "c1" {
		t.Errorf("ClusterID %q", f.ClusterID())
	}
	if err := add("c2", 2); !errors.Is(err, ErrOtherCluster) {
		t.Errorf("another cluster's key: %v, want ErrOtherCluster", err)
	}
	if err := add("bad id!", 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad cluster id: %v, want ErrMalformed", err)
	}
	if err := add("c1", 2); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := f.LatestDataKey(); !ok || v != 2 {
		t.Errorf("LatestDataKey = %d %v", v, ok)
	}

	obj := storedObject("k1", symKey("k1"))
	obj.SealedMaterial = sealedWith(1, "k1")
	if res := f.apply(createEntry(t, alice, t0, obj)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if err := retire(2); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("retire the newest: %v, want ErrKeyInUse", err)
	}
	if err := retire(1); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("retire a version that seals an object: %v, want ErrKeyInUse", err)
	}
	versions, _, err := f.Keyring()
	if err != nil || len(versions) != 2 || versions[0].Objects != 1 || versions[1].Objects != 0 {
		t.Fatalf("Keyring = %+v, %v", versions, err)
	}

	// Rewrap: a stale item is skipped, a current one replaces the material.
	stale := RewrapItem{ID: "k1", Previous: []byte("something else"), Sealed: sealedWith(2, "stale")}
	res := f.apply(must(f.EncodeRewrap(envAt(t0), []RewrapItem{stale})))
	if res.Err != nil || len(res.IDs) != 0 {
		t.Fatalf("stale rewrap: %v %v", res.Err, res.IDs)
	}
	fresh := RewrapItem{ID: "k1", Previous: obj.SealedMaterial, Sealed: sealedWith(2, "k1")}
	if res := f.apply(must(f.EncodeRewrap(envAt(t0), []RewrapItem{fresh, {ID: "gone", Previous: []byte("x"), Sealed: []byte("y")}}))); res.Err != nil || len(res.IDs) != 1 {
		t.Fatalf("rewrap: %v %v", res.Err, res.IDs)
	}
	if o, _ := f.Get("k1"); !bytes.Equal(o.Material, fresh.Sealed) {
		t.Error("rewrap did not replace the material")
	}
	if err := retire(1); err != nil {
		t.Fatalf("retire an unused version: %v", err)
	}
	if _, ok := f.DataKey(1); ok {
		t.Error("a retired version is still served")
	}
	if err := retire(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("retire twice: %v, want ErrNotFound", err)
	}
}

// TestControlStateInSnapshots checks that tokens, data keys and the cluster
// id survive a snapshot round trip.
func TestControlStateInSnapshots(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	f.apply(must(f.EncodeAddDataKey(envAt(t0), "c1", 1, []byte("sealed-1"))))
	f.apply(must(f.EncodeAddDataKey(envAt(t0), "c1", 2, []byte("sealed-2"))))
	f.apply(must(f.EncodeCreateJoinToken(envAt(t0), tokenHash("t"), t0.Add(time.Hour))))
	var buf bytes.Buffer
	if err := f.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	g := newTestFSM(t)
	g.next = 10
	if err := g.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if g.ClusterID() != "c1" || g.JoinTokens(t0) != 1 {
		t.Errorf("restored cluster %q tokens %d", g.ClusterID(), g.JoinTokens(t0))
	}
	if k, ok := g.DataKey(2); !ok || string(k) != "sealed-2" {
		t.Errorf("restored data key 2 = %q %v", k, ok)
	}
	if err := g.apply(must(g.EncodeConsumeJoinToken(envAt(t0), tokenHash("t"), "n2"))).Err; err != nil {
		t.Errorf("restored token cannot be used: %v", err)
	}
}

// TestValidateCommand is what a leader runs on forwarded bytes: every
// entry it refuses would have made Apply panic, every one it accepts applies.
func TestValidateCommand(t *testing.T) {
	f := newTestFSM(t)
	good := createEntry(t, alice, t0, storedObject("v1", symKey("v1")))
	unknownType := mustEncode(t, kmsdpb.CommandType(999), env(alice, t0), &kmsdpb.Activate{Id: "x"})
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"valid create", good, true},
		{"empty", nil, false},
		{"garbage", []byte{0xff, 0xff, 0xff}, false},
		{"truncated", good[:len(good)/2], false},
		{"unknown type", unknownType, false},
		{"wrong envelope version", mustMarshal(t, &kmsdpb.Command{Version: 7, Type: kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE}), false},
		{"undecodable body", mustMarshal(t, &kmsdpb.Command{Version: EnvelopeVersion, Type: kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, Body: []byte{0xff}}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := f.ValidateCommand(c.data)
			if (err == nil) != c.ok {
				t.Fatalf("ValidateCommand = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
			if c.ok {
				return
			}
			defer func() {
				if recover() == nil {
					t.Error("Apply accepted an entry that ValidateCommand refuses")
				}
			}()
			f.Apply(100, c.data)
		})
	}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMaterialUnderARetiredKeyIsRefused: with a keyring, material must name
// a version the keyring holds, or the object could never be opened.
func TestMaterialUnderARetiredKeyIsRefused(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	for v := uint32(1); v <= 2; v++ {
		if err := f.apply(must(f.EncodeAddDataKey(envAt(t0), "c1", v, []byte("sealed-key")))).Err; err != nil {
			t.Fatal(err)
		}
	}
	if err := f.apply(must(f.EncodeRetireDataKey(envAt(t0), 1))).Err; err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		material []byte
		want     error
	}{
		{"retired version", sealedWith(1, "a"), ErrRetiredKey},
		{"unknown version", sealedWith(7, "b"), ErrRetiredKey},
		{"not a sealed blob", []byte("x"), ErrMalformed},
		{"current version", sealedWith(2, "c"), nil},
	} {
		obj := storedObject("k-"+c.name, symKey("k"))
		obj.SealedMaterial = c.material
		if err := f.apply(createEntry(t, alice, t0, obj)).Err; !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	cur, _ := f.Get("k-current version")
	res := f.apply(must(f.EncodeRewrap(envAt(t0), []RewrapItem{{ID: cur.ID, Previous: cur.Material, Sealed: sealedWith(1, "back")}})))
	if res.Err != nil || len(res.IDs) != 0 {
		t.Errorf("a rewrap to a retired version: %v %v, want it skipped", res.Err, res.IDs)
	}
}
