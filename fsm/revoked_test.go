package fsm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/denylist"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func fpEntry(name string) denylist.Entry {
	sum := sha256.Sum256([]byte(name))
	return denylist.Entry{Fingerprint: sum[:], Reason: "test " + name}
}

func serialEntry(issuer string, serial ...byte) denylist.Entry {
	sum := sha256.Sum256([]byte(issuer))
	return denylist.Entry{Issuer: sum[:], Serial: serial}
}

func (f *testFSM) revokeEntry(actor string, at time.Time, entries ...denylist.Entry) []byte {
	f.t.Helper()
	b, err := f.EncodeRevokeCertificates(env(actor, at), entries)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

var revokeTime = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func TestRevokeCertificates(t *testing.T) {
	f := newTestFSM(t)
	entries, changed := f.Revocations()
	if len(entries) != 0 {
		t.Fatalf("new store lists %d entries", len(entries))
	}
	forged := fpEntry("a")
	forged.Revoked, forged.RevokedBy = time.Unix(1, 0), "someone else"
	res := f.mustApply(f.revokeEntry("operator", revokeTime, forged, serialEntry("ca", 0x01, 0x02)))
	if RevokedAdded(res) != 2 {
		t.Fatalf("added %v, want 2", res.IDs)
	}
	select {
	case <-changed:
	default:
		t.Fatal("the change channel was not closed by an applied entry")
	}
	entries, changed = f.Revocations()
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	for _, e := range entries {
		if e.RevokedBy != "operator" || !e.Revoked.Equal(revokeTime) {
			t.Errorf("entry %s: by %q at %v; the command's actor and time must win", e.Key(), e.RevokedBy, e.Revoked)
		}
	}
	// Listed already: skipped, and the command succeeds.
	res = f.mustApply(f.revokeEntry("operator", revokeTime, fpEntry("a"), fpEntry("b")))
	if RevokedAdded(res) != 1 {
		t.Fatalf("added %v, want 1", res.IDs)
	}
	<-changed
	// A failing command changes nothing and wakes nobody.
	_, changed = f.Revocations()
	bad := fpEntry("c")
	bad.Fingerprint = bad.Fingerprint[:31]
	if res := f.apply(f.revokeEntry("operator", revokeTime, fpEntry("d"), bad)); !errors.Is(res.Err, ErrMalformed) {
		t.Fatalf("bad entry: %v", res.Err)
	}
	select {
	case <-changed:
		t.Fatal("a refused command woke the watchers")
	default:
	}
	if entries, _ := f.Revocations(); len(entries) != 3 {
		t.Fatalf("%d entries after a refused command, want 3 (all or nothing)", len(entries))
	}
}

func TestRevokeCertificatesValidation(t *testing.T) {
	long := strings.Repeat("x", denylist.MaxReasonLen+1)
	withReason := fpEntry("r")
	withReason.Reason = long
	both := fpEntry("both")
	both.Serial = []byte{1}
	both.Issuer = both.Fingerprint
	for name, entries := range map[string][]denylist.Entry{
		"none":             nil,
		"empty entry":      {{}},
		"short issuer":     {{Issuer: []byte{1, 2}, Serial: []byte{1}}},
		"no serial":        {serialEntry("ca")},
		"leading zero":     {serialEntry("ca", 0, 1)},
		"long serial":      {serialEntry("ca", bytes.Repeat([]byte{1}, denylist.MaxSerialLen+1)...)},
		"both forms":       {both},
		"long reason":      {withReason},
		"too many entries": tooMany(MaxRevokePerCommand + 1),
	} {
		t.Run(name, func(t *testing.T) {
			f := newTestFSM(t)
			if res := f.apply(f.revokeEntry("operator", revokeTime, entries...)); !errors.Is(res.Err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", res.Err)
			}
		})
	}
	t.Run("long actor", func(t *testing.T) {
		f := newTestFSM(t)
		if res := f.apply(f.revokeEntry(strings.Repeat("a", denylist.MaxActorLen+1), revokeTime, fpEntry("a"))); !errors.Is(res.Err, ErrMalformed) {
			t.Fatalf("got %v, want ErrMalformed", res.Err)
		}
	})
	t.Run("serial zero", func(t *testing.T) {
		f := newTestFSM(t)
		f.mustApply(f.revokeEntry("operator", revokeTime, serialEntry("ca", 0)))
	})
}

func tooMany(n int) []denylist.Entry {
	out := make([]denylist.Entry, n)
	for i := range out {
		out[i] = fpEntry(fmt.Sprint(i))
	}
	return out
}

// TestRevokedListBounded: the list holds at most MaxRevokedCertificates;
// entries of certificates expired by a command's time are dropped first.
func TestRevokedListBounded(t *testing.T) {
	f := newTestFSM(t)
	expiring := fpEntry("expiring")
	expiring.NotAfter = revokeTime.Add(time.Hour)
	f.mustApply(f.revokeEntry("operator", revokeTime, expiring))
	for i := 1; i < MaxRevokedCertificates; i += MaxRevokePerCommand {
		batch := make([]denylist.Entry, 0, MaxRevokePerCommand)
		for j := i; j < i+MaxRevokePerCommand && j < MaxRevokedCertificates; j++ {
			batch = append(batch, fpEntry(fmt.Sprint(j)))
		}
		f.mustApply(f.revokeEntry("operator", revokeTime, batch...))
	}
	if res := f.apply(f.revokeEntry("operator", revokeTime, fpEntry("one more"))); !errors.Is(res.Err, ErrTooManyRevoked) {
		t.Fatalf("beyond the bound: %v", res.Err)
	}
	// Once the expiring certificate has expired, its place is free.
	f.mustApply(f.revokeEntry("operator", revokeTime.Add(2*time.Hour), fpEntry("one more")))
	entries, _ := f.Revocations()
	if len(entries) != MaxRevokedCertificates {
		t.Fatalf("%d entries, want %d", len(entries), MaxRevokedCertificates)
	}
	for _, e := range entries {
		if e.Equal(expiring) {
			t.Fatal("the expired entry is still listed")
		}
	}
}

// TestRevokedSnapshotRoundTrip: the deny list is in snapshots, and a
// restore wakes the watchers.
func TestRevokedSnapshotRoundTrip(t *testing.T) {
	f := newTestFSM(t)
	e := fpEntry("a")
	e.NotAfter = revokeTime.Add(24 * time.Hour)
	f.mustApply(f.revokeEntry("operator", revokeTime, e, serialEntry("ca", 7)))
	snap := f.snapshotBytes()

	g := newTestFSM(t)
	_, changed := g.Revocations()
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("a restore did not wake the watchers")
	}
	want, _ := f.Revocations()
	got, _ := g.Revocations()
	if len(got) != 2 {
		t.Fatalf("restored %d entries, want 2", len(got))
	}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].Reason != want[i].Reason || !got[i].Revoked.Equal(want[i].Revoked) ||
			got[i].RevokedBy != want[i].RevokedBy || !got[i].NotAfter.Equal(want[i].NotAfter) {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if !bytes.Equal(g.snapshotBytes(), snap) {
		t.Error("re-persisting the restored store changes its bytes")
	}
}

// TestRestoreRefusesBadRevoked: a snapshot with a malformed or duplicated
// deny-list record does not load.
func TestRestoreRefusesBadRevoked(t *testing.T) {
	good := revokedProto(fpEntry("a"))
	short := revokedProto(fpEntry("b"))
	short.FingerprintSha256 = short.FingerprintSha256[:5]
	for name, recs := range map[string][]*kmsdpb.RevokedCertificate{
		"malformed": {short},
		"twice":     {good, good},
	} {
		t.Run(name, func(t *testing.T) {
			f := New(Config{})
			tx := f.db.Txn(true)
			defer tx.Abort()
			var err error
			for _, r := range recs {
				if err = restoreControl(tx, &kmsdpb.ControlRecord{Record: &kmsdpb.ControlRecord_RevokedCertificate{RevokedCertificate: r}}); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
