package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// allIDs returns every object id in the store, in id order.
func allIDs(t *testing.T, f *FSM) []string {
	t.Helper()
	it, err := f.readTxn().Get(tableObjects, indexID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for raw := it.Next(); raw != nil; raw = it.Next() {
		ids = append(ids, raw.(*row).ID)
	}
	return ids
}

// checkSameStore compares two stores object by object.
func checkSameStore(t *testing.T, want, got *FSM) {
	t.Helper()
	wd, _ := want.Digest()
	gd, _ := got.Digest()
	if wd != gd {
		t.Errorf("digest %x, want %x", gd, wd)
	}
	ids := allIDs(t, want)
	if g := allIDs(t, got); !slices.Equal(g, ids) {
		t.Fatalf("ids %v, want %v", g, ids)
	}
	for _, id := range ids {
		w, _ := want.Get(id)
		g, err := got.Get(id)
		if err != nil {
			t.Fatalf("Get(%q): %v", id, err)
		}
		if !sameObject(w, g) {
			t.Errorf("%s differs:\n got %v\nwant %v", id, g.ToProto(), w.ToProto())
		}
		gk, _ := attrKeys(g, classOf(g))
		wk, _ := attrKeys(w, classOf(w))
		if g.Type != w.Type || g.State != w.State || !bytes.Equal(classKey(g, classOf(g)), classKey(w, classOf(w))) ||
			!slices.EqualFunc(gk, wk, bytes.Equal) {
			t.Errorf("%s: index keys differ: got %+v want %+v", id, g, w)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := locateFixture(t)
	snap := src.snapshotBytes()

	dst := New(Config{})
	if err := dst.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	checkSameStore(t, src.FSM, dst)
	if dst.AppliedIndex() != src.AppliedIndex() {
		t.Errorf("AppliedIndex = %d, want %d", dst.AppliedIndex(), src.AppliedIndex())
	}
	if dst.Count() != src.Count() {
		t.Errorf("Count = %d, want %d", dst.Count(), src.Count())
	}
	t.Run("queries agree", func(t *testing.T) {
		for _, owner := range []string{alice, bob} {
			q := Query{Owner: owner, Now: locateNow}
			a, at, _ := src.Locate(q)
			b, bt, _ := dst.Locate(q)
			if !slices.Equal(a, b) || at != bt {
				t.Errorf("%s: Locate %v/%d, want %v/%d", owner, b, bt, a, at)
			}
		}
	})
	t.Run("persist is stable", func(t *testing.T) {
		var again bytes.Buffer
		if err := dst.Snapshot().Persist(&again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), snap) {
			t.Error("re-persisting a restored store gives different bytes")
		}
	})
	t.Run("restored store keeps applying", func(t *testing.T) {
		res := dst.Apply(dst.AppliedIndex()+1, revokeEntry(t, alice, hour(7), compromise("k1")))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		o, _ := dst.Get("k1")
		if o.StoredState() != kmip.StateCompromised {
			t.Errorf("state %v", o.StoredState())
		}
	})
}

func TestSnapshotEmptyStore(t *testing.T) {
	src := newTestFSM(t)
	dst := locateFixture(t)
	if err := dst.Restore(bytes.NewReader(src.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	if dst.Count() != 0 || dst.AppliedIndex() != 0 {
		t.Errorf("Count %d AppliedIndex %d after restoring an empty snapshot", dst.Count(), dst.AppliedIndex())
	}
	if dst.digest() != src.digest() {
		t.Error("digest differs from an empty store")
	}
}

func TestRestoreReplacesContent(t *testing.T) {
	src := newTestFSM(t)
	src.mustApply(createEntry(t, alice, t0, storedObject("k1", symKey("fresh"))))

	dst := locateFixture(t)
	dst.mustApply(createEntry(t, alice, t0, storedObject("only-here", symKey("x"))))
	if err := dst.Restore(bytes.NewReader(src.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	checkSameStore(t, src.FSM, dst.FSM)
	for _, id := range []string{"only-here", "k2", "b1"} {
		if _, err := dst.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v after restore, want ErrNotFound", id, err)
		}
	}
	if ids, total, _ := dst.Locate(Query{Owner: bob, Now: locateNow}); total != 0 {
		t.Errorf("bob still locates %v", ids)
	}
	if dst.AppliedIndex() != src.AppliedIndex() {
		t.Errorf("AppliedIndex %d, want the snapshot's %d", dst.AppliedIndex(), src.AppliedIndex())
	}
}

// A snapshot is a point-in-time view: commands applied after Snapshot()
// returns are not in what Persist writes.
func TestSnapshotIsPointInTime(t *testing.T) {
	f := locateFixture(t)
	want := f.digest()
	snap := f.Snapshot()
	f.mustApply(createEntry(t, alice, hour(9), storedObject("late", symKey("late"))))
	f.mustApply(revokeEntry(t, alice, hour(9), compromise("k1")))

	var buf bytes.Buffer
	if err := snap.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	dst := New(Config{})
	if err := dst.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if d, _ := dst.Digest(); d != want {
		t.Error("snapshot includes commands applied after it was taken")
	}
	if dst.AppliedIndex() != f.AppliedIndex()-2 {
		t.Errorf("AppliedIndex = %d, want %d", dst.AppliedIndex(), f.AppliedIndex()-2)
	}
}

// record frames one StoredObject the way Persist does.
func record(t *testing.T, p *kmsdpb.StoredObject) []byte {
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

// header is a valid snapshot header for applied index 7.
func header(magic string, version uint32) []byte {
	h := append([]byte(magic), binary.BigEndian.AppendUint32(nil, version)...)
	return binary.BigEndian.AppendUint64(h, 7)
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ownedRecord is a valid record of alice's object id.
func ownedRecord(t *testing.T, id string) []byte {
	p := storedObject(id, symKey(id))
	p.Owner = alice
	return record(t, p)
}

// The hand-built pieces below are valid by themselves, so each failure in
// TestRestoreRejectsBadSnapshots comes from the corruption it names.
func TestRestoreHandBuiltSnapshot(t *testing.T) {
	f := New(Config{})
	data := join(header(snapshotMagic, 1), ownedRecord(t, "n1"), []byte{0})
	if err := f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if o, err := f.Get("n1"); err != nil || o.Owner != alice || f.AppliedIndex() != 7 {
		t.Errorf("Get = %v, %v; AppliedIndex %d", o, err, f.AppliedIndex())
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	okRecord := ownedRecord(t, "n1")
	badAttr := storedObject("n2", nil)
	badAttr.Owner = alice
	badAttr.Attributes = [][]byte{{0x42, 0x00, 0x0b}}
	hdr := header(snapshotMagic, 1)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", hdr[:10]},
		{"header only", hdr},
		{"wrong magic", join(header("KMSDSNAQ", snapshotVersion), []byte{0})},
		{"other format", join([]byte("PK\x03\x04 not a snapshot at all"), []byte{0})},
		{"version 0", join(header(snapshotMagic, 0), []byte{0})},
		{"version 2", join(header(snapshotMagic, snapshotVersion+1), []byte{0})},
		{"missing terminator", join(hdr, okRecord)},
		{"record cut short", join(hdr, okRecord[:len(okRecord)-3])},
		{"length past maxRecord", join(hdr, binary.AppendUvarint(nil, maxRecord+1), []byte{0})},
		{"overlong varint", join(hdr, bytes.Repeat([]byte{0xff}, 11))},
		{"garbage record", join(hdr, []byte{3, 0xff, 0xff, 0xff}, []byte{0})},
		{"undecodable attribute", join(hdr, record(t, badAttr), []byte{0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRestoreFails(t, tt.data)
		})
	}
}

// A record the store cannot index is corrupt too. Restore returns the
// go-memdb insert error unwrapped, so it is not ErrBadSnapshot.
func TestRestoreRejectsUnindexableRecords(t *testing.T) {
	hdr := header(snapshotMagic, 1)
	noOwner := record(t, storedObject("n1", symKey("n1")))
	noID := record(t, &kmsdpb.StoredObject{Owner: alice})
	t.Run("record without owner", func(t *testing.T) { checkRestoreFails(t, join(hdr, noOwner, []byte{0})) })
	t.Run("record without id", func(t *testing.T) { checkRestoreFails(t, join(hdr, noID, []byte{0})) })
}

// checkRestoreFails restores data over a populated store and checks it is
// rejected with ErrBadSnapshot and the previous store is left as it was.
func checkRestoreFails(t *testing.T, data []byte) {
	t.Helper()
	f := locateFixture(t)
	before, applied := f.digest(), f.AppliedIndex()
	err := f.Restore(bytes.NewReader(data))
	if !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("Restore = %v, want ErrBadSnapshot", err)
	}
	if f.digest() != before || f.AppliedIndex() != applied {
		t.Error("a failed Restore changed the store")
	}
}

func TestRestoreRejectsEveryTruncation(t *testing.T) {
	snap := locateFixture(t).snapshotBytes()
	f := locateFixture(t)
	before, applied := f.digest(), f.AppliedIndex()
	for n := 0; n < len(snap); n++ {
		err := f.Restore(bytes.NewReader(snap[:n]))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("Restore of the first %d of %d bytes = %v, want ErrBadSnapshot", n, len(snap), err)
		}
	}
	if f.digest() != before || f.AppliedIndex() != applied {
		t.Error("failed Restores changed the store")
	}
}

// Flipping any byte must not panic; a rejected snapshot leaves the store as
// it was. (Some flips, inside a name or a date, still decode.)
func TestRestoreCorruptBytes(t *testing.T) {
	snap := locateFixture(t).snapshotBytes()
	f := locateFixture(t)
	before, applied := f.digest(), f.AppliedIndex()
	step := 1
	if testing.Short() {
		step = 7
	}
	for i := 0; i < len(snap); i += step {
		bad := slices.Clone(snap)
		bad[i] ^= 0xa5
		var err error
		if r := recoverPanic(func() { err = f.Restore(bytes.NewReader(bad)) }); r != nil {
			t.Fatalf("byte %d: Restore panicked: %v", i, r)
		}
		if err == nil {
			// Accepted: put the reference store back for the next round.
			if err := f.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("byte %d: Restore = %v, want ErrBadSnapshot", i, err)
		}
		if f.digest() != before || f.AppliedIndex() != applied {
			t.Fatalf("byte %d: a failed Restore changed the store", i)
		}
	}
}

// Persist never writes the same id twice; a snapshot that does is corrupt.
// Restore currently lets the second record silently replace the first.
func TestRestoreRejectsDuplicateIDs(t *testing.T) {
	first := ownedRecord(t, "dup")
	second := storedObject("dup", symKey("second"))
	second.Owner = bob
	checkRestoreFails(t, join(header(snapshotMagic, 1), first, record(t, second), []byte{0}))
}

func TestDigest(t *testing.T) {
	t.Run("same log same digest", func(t *testing.T) {
		if a, b := locateFixture(t).digest(), locateFixture(t).digest(); a != b {
			t.Error("two replicas of the same log differ")
		}
	})
	t.Run("ignores applied index", func(t *testing.T) {
		a, b := New(Config{}), New(Config{})
		a.Apply(1, createEntry(t, alice, t0, storedObject("k", symKey("k"))))
		b.Apply(1, createEntry(t, alice, t0, storedObject("k", symKey("k"))))
		b.Apply(2, activateEntry(t, bob, t0, "k")) // rejected: not bob's
		da, _ := a.Digest()
		db, _ := b.Digest()
		if da != db {
			t.Error("a rejected command changed the digest")
		}
	})
	t.Run("covers content", func(t *testing.T) {
		f := locateFixture(t)
		before := f.digest()
		f.mustApply(activateEntry(t, alice, hour(7), "k2"))
		if f.digest() == before {
			t.Error("digest unchanged by Activate")
		}
	})
	t.Run("covers command time", func(t *testing.T) {
		a, b := newTestFSM(t), newTestFSM(t)
		a.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))
		b.mustApply(createEntry(t, alice, t0.Add(time.Second), storedObject("k", symKey("k"))))
		if a.digest() == b.digest() {
			t.Error("different Initial Dates, same digest")
		}
	})
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct{ n int }

var errSink = errors.New("sink failed")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errSink
	}
	w.n -= len(p)
	return len(p), nil
}

func TestPersistReportsWriteErrors(t *testing.T) {
	f := locateFixture(t)
	size := len(f.snapshotBytes())
	for _, n := range []int{0, 10, size / 2, size - 1} {
		err := f.Snapshot().Persist(&failingWriter{n: n})
		if !errors.Is(err, errSink) {
			t.Errorf("Persist after %d of %d bytes = %v, want the writer's error", n, size, err)
		}
	}
	if err := f.Snapshot().Persist(&failingWriter{n: size}); err != nil {
		t.Errorf("Persist with room for the whole snapshot = %v", err)
	}
}
