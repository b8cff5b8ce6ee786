package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// rotationFSM is a keyring of versions 1..3 in cluster c1, with k1 sealed
// under version 1 and k3 under version 3.
func rotationFSM(t *testing.T) *testFSM {
	t.Helper()
	must := mustEntry(t)
	f := newTestFSM(t)
	for v := uint32(1); v <= 3; v++ {
		f.mustApply(must(f.EncodeAddDataKey(envAt(t0.Add(time.Duration(v)*10*time.Minute)), "c1", v, fmt.Appendf(nil, "sealed-%d-epoch-0", v))))
	}
	for id, v := range map[string]uint32{"k1": 1, "k3": 3} {
		o := storedObject(id, symKey(id))
		o.SealedMaterial = sealedWith(v, id)
		f.mustApply(createEntry(t, alice, t0, o))
	}
	return f
}

// rotation is a ROTATE_ROOT body keeping versions, sealed "under" epoch.
func rotation(epoch uint64, versions ...uint32) seal.RootRotation {
	r := seal.RootRotation{Epoch: epoch, Wrapped: fmt.Appendf(nil, "root-%d-wrapped-under-%d", epoch, epoch-1)}
	for _, v := range versions {
		r.Keys = append(r.Keys, seal.SealedDataKey{Version: v, Sealed: fmt.Appendf(nil, "sealed-%d-epoch-%d", v, epoch)})
	}
	return r
}

// stateBytes is the snapshot without its header (which names the applied
// index, and so changes with every command, applied or refused).
func (f *testFSM) stateBytes() []byte { return f.snapshotBytes()[len(snapshotMagic)+12:] }

func (f *testFSM) rotate(cluster string, r seal.RootRotation) *Result {
	f.t.Helper()
	return f.apply(mustEntry(f.t)(f.EncodeRotateRoot(envAt(t0), cluster, r)))
}

func TestRotateRoot(t *testing.T) {
	must := mustEntry(t)
	f := rotationFSM(t)
	before := f.stateBytes()
	refused := []struct {
		name    string
		cluster string
		rot     seal.RootRotation
		want    error
	}{
		{"skips an epoch", "c1", rotation(2, 1, 3), ErrConflict},
		{"drops the newest", "c1", rotation(1, 1, 2), ErrConflict},
		{"adds a version", "c1", rotation(1, 1, 3, 9), ErrConflict},
		{"retires a version in use", "c1", rotation(1, 2, 3), ErrKeyInUse},
		{"another cluster", "c2", rotation(1, 1, 3), ErrOtherCluster},
		{"epoch 0", "c1", rotation(0, 1, 3), ErrMalformed},
	}
	for _, r := range refused {
		if err := f.rotate(r.cluster, r.rot).Err; !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
	}
	if !bytes.Equal(f.stateBytes(), before) {
		t.Fatal("a refused rotation changed the state")
	}

	created, _, _ := f.Keyring()
	res := f.rotate("c1", rotation(1, 1, 3))
	if res.Err != nil || !slices.Equal(res.IDs, []string{"2"}) {
		t.Fatalf("rotation retiring 2: %v %v", res.Err, res.IDs)
	}
	versions, unreadable, err := f.Keyring()
	if err != nil || unreadable != 0 || len(versions) != 2 {
		t.Fatalf("Keyring = %+v %d %v", versions, unreadable, err)
	}
	want := []seal.KeyVersion{
		{Version: 1, Created: created[0].Created, Objects: 1},
		{Version: 3, Created: created[2].Created, Objects: 1, Latest: true},
	}
	if !slices.Equal(versions, want) {
		t.Errorf("Keyring = %+v, want %+v (creation times kept)", versions, want)
	}
	for v, wantSealed := range map[uint32]string{1: "sealed-1-epoch-1", 3: "sealed-3-epoch-1"} {
		if got, ok := f.DataKey(v); !ok || string(got) != wantSealed {
			t.Errorf("DataKey(%d) = %q %v, want %q", v, got, ok, wantSealed)
		}
	}
	if _, ok := f.DataKey(2); ok {
		t.Error("the retired version is still served")
	}
	if epoch, wrapped := f.RootTransition(); epoch != 1 || string(wrapped) != "root-1-wrapped-under-0" {
		t.Errorf("RootTransition = %d %q", epoch, wrapped)
	}

	// Epochs only grow; a data key sealed under an old root is refused.
	if err := f.rotate("c1", rotation(1, 1, 3)).Err; !errors.Is(err, ErrConflict) {
		t.Errorf("the same epoch again: %v, want ErrConflict", err)
	}
	if err := f.apply(must(f.EncodeNextDataKey(envAt(t0), "c1", 0, 4, []byte("sealed-4-epoch-0")))).Err; !errors.Is(err, ErrConflict) {
		t.Errorf("a data key sealed under root epoch 0 after the rotation: %v, want ErrConflict", err)
	}
	if err := f.apply(must(f.EncodeNextDataKey(envAt(t0), "c1", 2, 4, []byte("sealed-4-epoch-2")))).Err; !errors.Is(err, ErrConflict) {
		t.Errorf("a data key sealed under a future root epoch: %v, want ErrConflict", err)
	}
	f.mustApply(must(f.EncodeNextDataKey(envAt(t0), "c1", 1, 4, []byte("sealed-4-epoch-1"))))
	if res := f.rotate("c1", rotation(2, 1, 3, 4)); res.Err != nil || len(res.IDs) != 0 {
		t.Fatalf("a rotation retiring nothing: %v %v", res.Err, res.IDs)
	}
	if epoch, _ := f.RootTransition(); epoch != 2 {
		t.Errorf("epoch %d, want 2", epoch)
	}
}

// TestRotateRootMalformed: every malformed body is a domain error of the
// command, never a panic, and changes nothing.
func TestRotateRootMalformed(t *testing.T) {
	f := rotationFSM(t)
	before := f.stateBytes()
	key := func(v uint32, n int) *kmsdpb.DataKey {
		return &kmsdpb.DataKey{Version: v, Sealed: bytes.Repeat([]byte{1}, n)}
	}
	many := make([]*kmsdpb.DataKey, maxRotateKeys+1)
	for i := range many {
		many[i] = key(uint32(i+1), 61)
	}
	ok := &kmsdpb.RotateRoot{Epoch: 1, WrappedRoot: make([]byte, 61), ClusterId: "c1", Keys: []*kmsdpb.DataKey{key(1, 61), key(3, 61)}}
	cases := map[string]func(b *kmsdpb.RotateRoot){
		"no wrapped root":      func(b *kmsdpb.RotateRoot) { b.WrappedRoot = nil },
		"wrapped root too big": func(b *kmsdpb.RotateRoot) { b.WrappedRoot = make([]byte, maxSealedDataKey+1) },
		"no keys":              func(b *kmsdpb.RotateRoot) { b.Keys = nil },
		"too many keys":        func(b *kmsdpb.RotateRoot) { b.Keys = many },
		"keys out of order":    func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{key(3, 61), key(1, 61)} },
		"a key twice":          func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{key(3, 61), key(3, 61)} },
		"version 0":            func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{key(0, 61), key(3, 61)} },
		"empty sealed key":     func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{key(3, 0)} },
		"sealed key too big":   func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{key(3, maxSealedDataKey+1)} },
		"nil key":              func(b *kmsdpb.RotateRoot) { b.Keys = []*kmsdpb.DataKey{nil} },
		"bad cluster id":       func(b *kmsdpb.RotateRoot) { b.ClusterId = "c1/../x" },
		"no cluster id":        func(b *kmsdpb.RotateRoot) { b.ClusterId = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := &kmsdpb.RotateRoot{Epoch: ok.Epoch, WrappedRoot: ok.WrappedRoot, ClusterId: ok.ClusterId, Keys: slices.Clone(ok.Keys)}
			mutate(b)
			entry := mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT, envAt(t0), b)
			if err := f.ValidateCommand(entry); err != nil {
				t.Fatalf("ValidateCommand refuses a decodable body: %v", err)
			}
			var res *Result
			if r := recoverPanic(func() { res = f.apply(entry) }); r != nil {
				t.Fatalf("Apply panicked: %v", r)
			}
			if !errors.Is(res.Err, ErrMalformed) {
				t.Errorf("Err = %v, want ErrMalformed", res.Err)
			}
		})
	}
	if !bytes.Equal(f.stateBytes(), before) {
		t.Fatal("a malformed rotation changed the state")
	}
	undecodable := mustMarshal(t, &kmsdpb.Command{Version: EnvelopeVersion, Type: kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT, Body: []byte{0x0a, 0xff}})
	if err := f.ValidateCommand(undecodable); !errors.Is(err, ErrMalformed) {
		t.Errorf("undecodable body: ValidateCommand = %v", err)
	}
	// The good body applies, so the cases above failed for their reason.
	if res := f.apply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT, envAt(t0), ok)); res.Err != nil {
		t.Fatalf("the unmutated body: %v", res.Err)
	}
}

// TestRootTransitionInSnapshots: the epoch and transition survive a
// snapshot, and a snapshot without a rotation holds no root record (the
// golden files keep their bytes).
func TestRootTransitionInSnapshots(t *testing.T) {
	f := rotationFSM(t)
	if bytes.Contains(f.snapshotBytes(), []byte("wrapped-under")) {
		t.Fatal("snapshot before a rotation")
	}
	if res := f.rotate("c1", rotation(1, 1, 3)); res.Err != nil {
		t.Fatal(res.Err)
	}
	snap := f.snapshotBytes()
	g := newTestFSM(t)
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if epoch, wrapped := g.RootTransition(); epoch != 1 || string(wrapped) != "root-1-wrapped-under-0" {
		t.Errorf("restored RootTransition = %d %q", epoch, wrapped)
	}
	if k, ok := g.DataKey(3); !ok || string(k) != "sealed-3-epoch-1" {
		t.Errorf("restored data key 3 = %q", k)
	}
	if !bytes.Equal(g.snapshotBytes(), snap) {
		t.Error("re-persisting a restored store changes its bytes")
	}
	g.next = 100
	if err := g.rotate("c1", rotation(1, 1, 3)).Err; !errors.Is(err, ErrConflict) {
		t.Errorf("the restored epoch does not count: %v", err)
	}

	// A snapshot with a bad or repeated root record is refused.
	root := mustMarshal(t, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_RootTransition{RootTransition: &kmsdpb.RootTransition{Epoch: 1, WrappedRoot: []byte("w")}}})
	zero := mustMarshal(t, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_RootTransition{RootTransition: &kmsdpb.RootTransition{WrappedRoot: []byte("w")}}})
	for name, records := range map[string][][]byte{"twice": {root, root}, "epoch 0": {zero}} {
		bad := withControlRecords(t, newTestFSM(t).snapshotBytes(), records...)
		if err := New(Config{}).Restore(bytes.NewReader(bad)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if err := New(Config{}).Restore(bytes.NewReader(withControlRecords(t, newTestFSM(t).snapshotBytes(), root))); err != nil {
		t.Errorf("one root record: %v", err)
	}
}

// withControlRecords appends records to the (empty) cluster section of an
// empty store's snapshot, which ends with that section's zero length.
func withControlRecords(t *testing.T, snap []byte, records ...[]byte) []byte {
	t.Helper()
	if snap[len(snap)-1] != 0 {
		t.Fatal("snapshot does not end with an empty section")
	}
	out := slices.Clone(snap[:len(snap)-1])
	for _, r := range records {
		out = protowire.AppendVarint(out, uint64(len(r)))
		out = append(out, r...)
	}
	return append(out, 0)
}

func TestIsRootRotation(t *testing.T) {
	f := rotationFSM(t)
	rot := mustEntry(t)(f.EncodeRotateRoot(envAt(t0), "c1", rotation(1, 1, 3)))
	typeField := func(typ kmsdpb.CommandType) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), uint64(typ))
	}
	create := createEntry(t, alice, t0, storedObject("x", symKey("x")))
	cases := []struct {
		name  string
		entry []byte
	}{
		{"rotate root", rot},
		{"create", create},
		{"add data key", mustEntry(t)(f.EncodeNextDataKey(envAt(t0), "c1", 0, 4, []byte("s")))},
		{"empty", nil},
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"truncated", rot[:len(rot)/2]},
		{"rotate, then create", append(slices.Clone(rot), typeField(kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS)...)},
		{"create, then rotate", append(slices.Clone(create), typeField(kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT)...)},
	}
	for _, c := range cases {
		// The peek agrees with the decoder the state machine applies.
		cmd, _, _, err := decodeEntry(c.entry)
		want := err == nil && cmd.GetType() == kmsdpb.CommandType_COMMAND_TYPE_ROTATE_ROOT
		if got := f.IsRootRotation(c.entry); got != want {
			t.Errorf("%s: IsRootRotation = %v, want %v", c.name, got, want)
		}
	}
	if !f.IsRootRotation(rot) {
		t.Error("a rotation is not recognised")
	}
}

func TestSealedObjects(t *testing.T) {
	f := newTestFSM(t)
	for _, id := range []string{"b", "a", "d", "c", "e"} {
		f.mustApply(createEntry(t, alice, t0, storedObject(id, symKey(id))))
	}
	f.mustApply(destroyEntry(t, alice, t0, "c"))
	page := func(after string, limit int) []string {
		objs, err := f.SealedObjects(after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, o := range objs {
			if o.Owner != alice || string(o.Material) != "sealed:"+o.ID {
				t.Errorf("object %+v", o)
			}
			ids = append(ids, o.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"a", "b"}},
		{"b", 2, []string{"d", "e"}},
		{"e", 2, nil},
		{"", 0, []string{"a"}},
		{"a", 100, []string{"b", "d", "e"}},
		{"bb", 1, []string{"d"}},
	} {
		if got := page(tc.after, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("SealedObjects(%q, %d) = %q, want %q", tc.after, tc.limit, got, tc.want)
		}
	}
}
