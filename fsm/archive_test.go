package fsm

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func archiveEntry(t testing.TB, actor string, at time.Time, id string) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ARCHIVE, env(actor, at), &kmsdpb.Archive{Id: id})
}

func recoverEntry(t testing.TB, actor string, at time.Time, id string) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_RECOVER, env(actor, at), &kmsdpb.Recover{Id: id})
}

func TestArchiveRecover(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))

	f.mustApply(archiveEntry(t, alice, tOp, "k"))
	o := f.get("k")
	if !o.Archived() {
		t.Fatal("not archived")
	}
	wantAttr(t, o, kmip.AttributeNameArchiveDate, sec(tOp))
	wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(tOp))
	wantAttr(t, o, kmip.AttributeNameState, kmip.StatePreActive)
	if !bytes.Equal(o.Material, []byte("sealed:k")) {
		t.Error("archiving dropped the material")
	}

	t.Run("archive twice", func(t *testing.T) {
		checkRejected(t, f, archiveEntry(t, alice, tOp.Add(time.Minute), "k"), ErrArchived)
	})
	t.Run("other tenant", func(t *testing.T) {
		checkRejected(t, f, recoverEntry(t, bob, tOp.Add(time.Minute), "k"), ErrNotFound)
	})
	t.Run("survives a snapshot", func(t *testing.T) {
		g := newTestFSM(t)
		if err := g.Restore(bytes.NewReader(f.snapshotBytes())); err != nil {
			t.Fatal(err)
		}
		if !g.get("k").Archived() || g.digest() != f.digest() {
			t.Error("archived state lost in the snapshot")
		}
	})

	recovered := tOp.Add(2 * time.Minute)
	f.mustApply(recoverEntry(t, alice, recovered, "k"))
	o = f.get("k")
	if o.Archived() {
		t.Fatal("still archived")
	}
	wantNoAttr(t, o, kmip.AttributeNameArchiveDate)
	wantAttr(t, o, kmip.AttributeNameLastChangeDate, sec(recovered))

	t.Run("recover on-line object changes nothing", func(t *testing.T) {
		before := f.digest()
		f.mustApply(recoverEntry(t, alice, recovered.Add(time.Hour), "k"))
		if f.digest() != before {
			t.Error("recovering an on-line object changed it")
		}
	})
	t.Run("missing", func(t *testing.T) {
		for _, e := range [][]byte{archiveEntry(t, alice, tOp, "nope"), recoverEntry(t, alice, tOp, "nope")} {
			if res := f.apply(e); !errors.Is(res.Err, ErrNotFound) {
				t.Errorf("Err = %v, want ErrNotFound", res.Err)
			}
		}
	})
}

// TestLocateStorageStatus: on-line objects by default, archived ones only
// when the Storage Status Mask asks for them (KMIP 1.4 §4.9).
func TestLocateStorageStatus(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(createEntry(t, alice, t0, storedObject("online", symKey("online"))))
	f.mustApply(createEntry(t, alice, t0, storedObject("archived", symKey("archived"))))
	f.mustApply(createEntry(t, alice, t0, storedObject("gone", symKey("gone"))))
	f.mustApply(archiveEntry(t, alice, t0, "archived"))
	f.mustApply(destroyEntry(t, alice, t0, "gone"))
	f.mustApply(archiveEntry(t, alice, t0, "gone"))
	online, archival := kmip.StorageStatusOnlineStorage, kmip.StorageStatusArchivalStorage
	destroyed := []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateDestroyed)}
	tests := []struct {
		name    string
		mask    kmip.StorageStatusMask
		filters []kmip.Attribute
		want    []string
	}{
		{"default is on-line", 0, nil, []string{"online"}},
		{"on-line", online, nil, []string{"online"}},
		{"archival", archival, nil, []string{"archived"}},
		{"both", online | archival, nil, []string{"online", "archived"}},
		{"archived and destroyed", archival, destroyed, []string{"gone"}},
		{"destroyed on-line", online, destroyed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, total, err := f.Locate(Query{Owner: alice, Now: t0, Storage: tt.mask, Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, tt.want) || total != len(tt.want) {
				t.Errorf("Locate = %v (total %d), want %v", ids, total, tt.want)
			}
		})
	}
}
