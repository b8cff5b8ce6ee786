package fsm

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// Regenerate with: go test ./fsm/ -run TestGoldenSnapshot -update-golden
// Never regenerate a released format's file: write a new one for a new format.
var updateGolden = flag.Bool("update-golden", false, "write the current format's golden snapshot from goldenStore")

const (
	// goldenDigest is Digest() of the store in every golden file.
	goldenDigest = "0c8c4099d8e2cacb24da13c28d044aceb6629d5e9420b681b7df8312d547e2a8"
)

// goldenApplied is the applied index in each golden file: from format 3 on,
// the golden store also holds the cluster's own state.
var goldenApplied = map[int]uint64{1: 9, 2: 9, 3: 12, 4: 12}

// goldenFile is the golden snapshot of one format version; every format this
// build has ever written must keep loading.
func goldenFile(version int) string {
	return filepath.Join("testdata", fmt.Sprintf("snapshot-v%d.bin", version))
}

var goldenTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// goldenStore builds the store written to goldenFile. It does not depend on
// other fixtures so that they can change freely.
func goldenStore(t *testing.T) *FSM {
	t.Helper()
	f := New(Config{})
	at := func(m int) time.Time { return goldenTime.Add(time.Duration(m) * time.Minute) }
	steps := [][]byte{
		createEntry(t, alice, at(0), storedObject("aes-1", []kmip.Attribute{
			attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey),
			attr(kmip.AttributeNameName, kmip.Name{NameValue: "payments", NameType: kmip.NameTypeUninterpretedTextString}),
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
			attr(kmip.AttributeNameCryptographicLength, int32(256)),
			attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
			attr(kmip.AttributeNameObjectGroup, "prod"),
			attr("x-team", custom("payments")),
			attr("x-rotations", custom(int32(2))),
			attr("x-serial", custom(int64(9_000_000_000))),
			attr("x-exportable", custom(false)),
			attr("x-fingerprint", custom([]byte{0xde, 0xad, 0xbe, 0xef})),
			attr("x-review", custom(goldenTime.Add(90*24*time.Hour))),
			attr("x-tier", custom(ttlv.Enum(3))),
			attr("x-grace", custom(72*time.Hour)),
		})),
		activateEntry(t, alice, at(1), "aes-1"),
		createEntry(t, alice, at(2),
			storedObject("rsa-pub", []kmip.Attribute{
				attr(kmip.AttributeNameObjectType, kmip.ObjectTypePublicKey),
				attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA),
				attr(kmip.AttributeNameCryptographicLength, int32(3072)),
				attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePrivateKeyLink, LinkedObjectIdentifier: "rsa-priv"}),
			}),
			storedObject("rsa-priv", []kmip.Attribute{
				attr(kmip.AttributeNameObjectType, kmip.ObjectTypePrivateKey),
				attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA),
				attr(kmip.AttributeNameCryptographicLength, int32(3072)),
				attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePublicKeyLink, LinkedObjectIdentifier: "rsa-pub"}),
				attr(kmip.AttributeNameActivationDate, at(60)),
			})),
		revokeEntry(t, alice, at(3), compromise("rsa-priv")),
		destroyEntry(t, alice, at(4), "rsa-priv"),
		createEntry(t, bob, at(5), storedObject("bob-1", symKey("bob"))),
		activateEntry(t, bob, at(6), "bob-1"),
		revokeEntry(t, bob, at(7), supersede("bob-1")),
		destroyEntry(t, bob, at(8), "bob-1"),
		mustEntry(t)(f.EncodeAddDataKey(env("operator", at(9)), "golden-cluster", 1, []byte("sealed-data-key-1"))),
		mustEntry(t)(f.EncodeAddDataKey(env("operator", at(10)), "golden-cluster", 2, []byte("sealed-data-key-2"))),
		mustEntry(t)(f.EncodeCreateJoinToken(env("operator", at(11)), tokenHash("golden"), goldenTime.Add(10*365*24*time.Hour))),
	}
	for i, data := range steps {
		if res := f.Apply(uint64(i+1), data); res.Err != nil {
			t.Fatalf("golden step %d: %v", i+1, res.Err)
		}
	}
	return f
}

func TestGoldenSnapshot(t *testing.T) {
	if *updateGolden {
		var buf bytes.Buffer
		if err := goldenStore(t).Snapshot().Persist(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile(snapshotVersion), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		d, _ := goldenStore(t).Digest()
		t.Logf("wrote %s; set goldenDigest = %x", goldenFile(snapshotVersion), d)
	}
	for version := 1; version <= snapshotVersion; version++ {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			data, err := os.ReadFile(goldenFile(version))
			if err != nil {
				t.Fatalf("read golden snapshot: %v", err)
			}
			f := New(Config{})
			if err := f.Restore(bytes.NewReader(data)); err != nil {
				t.Fatalf("a v%d snapshot no longer loads: %v", version, err)
			}
			if d, _ := f.Digest(); hex.EncodeToString(d[:]) != goldenDigest {
				t.Errorf("digest %x, want %s", d, goldenDigest)
			}
			if f.AppliedIndex() != goldenApplied[version] || f.Count() != 4 {
				t.Errorf("AppliedIndex %d Count %d, want %d 4", f.AppliedIndex(), f.Count(), goldenApplied[version])
			}
			checkGoldenObjects(t, f)
			if version >= 3 {
				if k, ok := f.DataKey(2); f.ClusterID() != "golden-cluster" || !ok || string(k) != "sealed-data-key-2" || f.JoinTokens(goldenTime) != 1 {
					t.Errorf("cluster state: id %q, data key 2 %q %v, tokens %d", f.ClusterID(), k, ok, f.JoinTokens(goldenTime))
				}
			}
			if version != snapshotVersion {
				return
			}
			var buf bytes.Buffer
			if err := f.Snapshot().Persist(&buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), data) {
				t.Error("re-persisting the golden store changes its bytes: format change without a version bump?")
			}
		})
	}
}

// checkGoldenObjects checks the restored golden store against literal values,
// not against anything computed by this build.
func checkGoldenObjects(t *testing.T, f *FSM) {
	t.Helper()
	get := func(id string) *Object {
		o, err := f.Get(id)
		if err != nil {
			t.Fatalf("Get(%q): %v", id, err)
		}
		return o
	}
	at := func(m int) time.Time { return goldenTime.Add(time.Duration(m) * time.Minute) }

	aes := get("aes-1")
	if aes.Owner != alice || aes.Revision != 1 || string(aes.Material) != "sealed:aes-1" {
		t.Errorf("aes-1: owner %q revision %d material %q", aes.Owner, aes.Revision, aes.Material)
	}
	for _, w := range []kmip.Attribute{
		attr(kmip.AttributeNameUniqueIdentifier, "aes-1"),
		attr(kmip.AttributeNameState, kmip.StateActive),
		attr(kmip.AttributeNameInitialDate, at(0)),
		attr(kmip.AttributeNameActivationDate, at(1)),
		attr(kmip.AttributeNameLastChangeDate, at(1)),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "payments", NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, int32(256)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
		attr(kmip.AttributeNameObjectGroup, "prod"),
		attr("x-team", custom("payments")),
		attr("x-rotations", custom(int32(2))),
		attr("x-serial", custom(int64(9_000_000_000))),
		attr("x-exportable", custom(false)),
		attr("x-fingerprint", custom([]byte{0xde, 0xad, 0xbe, 0xef})),
		attr("x-review", custom(goldenTime.Add(90*24*time.Hour))),
		attr("x-tier", custom(ttlv.Enum(3))),
		attr("x-grace", custom(72*time.Hour)),
	} {
		wantAttr(t, aes, w.AttributeName, w.AttributeValue)
	}

	pub, priv := get("rsa-pub"), get("rsa-priv")
	if pub.Revision != 3 || priv.Revision != 3 || string(pub.Material) != "sealed:rsa-pub" {
		t.Errorf("key pair: revisions %d %d material %q", pub.Revision, priv.Revision, pub.Material)
	}
	wantAttr(t, pub, kmip.AttributeNameState, kmip.StatePreActive)
	byLink := Query{Owner: alice, Now: at(10), Filters: []kmip.Attribute{
		attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypePrivateKeyLink, LinkedObjectIdentifier: "rsa-priv"})}}
	if ids, _, _ := f.Locate(byLink); !slices.Equal(ids, []string{"rsa-pub"}) {
		t.Errorf("Locate by link to rsa-priv = %v", ids)
	}
	if priv.Material != nil {
		t.Errorf("rsa-priv material %q after destroy", priv.Material)
	}
	wantAttr(t, priv, kmip.AttributeNameState, kmip.StateDestroyedCompromised)
	wantAttr(t, priv, kmip.AttributeNameCompromiseDate, at(3))
	wantAttr(t, priv, kmip.AttributeNameCompromiseOccurrenceDate, at(3))
	wantAttr(t, priv, kmip.AttributeNameDestroyDate, at(4))
	wantAttr(t, priv, kmip.AttributeNameRevocationReason,
		kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise, RevocationMessage: "leaked"})

	b := get("bob-1")
	if b.Owner != bob || b.Material != nil {
		t.Errorf("bob-1: owner %q material %q", b.Owner, b.Material)
	}
	wantAttr(t, b, kmip.AttributeNameState, kmip.StateDestroyed)
	wantAttr(t, b, kmip.AttributeNameDeactivationDate, at(7))
	wantAttr(t, b, kmip.AttributeNameDestroyDate, at(8))

	if ids, _, _ := f.Locate(Query{Owner: alice, Now: at(10), Filters: []kmip.Attribute{attr("x-team", custom("payments"))}}); !slices.Equal(ids, []string{"aes-1"}) {
		t.Errorf("Locate x-team = %v", ids)
	}
}
