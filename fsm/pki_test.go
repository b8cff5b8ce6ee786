package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func issuedCert(serial, cn string) *kmsdpb.IssuedCertificate {
	der := []byte("certificate of " + cn)
	sum := sha256.Sum256(der)
	return &kmsdpb.IssuedCertificate{Serial: serial, Fingerprint: hex.EncodeToString(sum[:]), CommonName: cn,
		Tenant: "vsphere", Role: policy.RoleUser, Binding: "pki-" + cn, Certificate: der}
}

// TestCertificateAuthority: the CA is set, certificates are recorded with
// their bindings in one step, everything survives a snapshot, and the CA
// key counts as sealed material for the keyring: it blocks a retire until a
// rewrap moved it.
func TestCertificateAuthority(t *testing.T) {
	must := mustEntry(t)
	f := newTestFSM(t)
	for v := uint32(1); v <= 2; v++ {
		f.mustApply(must(f.EncodeAddDataKey(envAt(t0), "c1", v, []byte("sealed-key"))))
	}
	ic := issuedCert("0abc", "esx1")
	binding := bindingOf("pki-esx1", "vsphere", policy.RoleUser, "esx1")
	if err := f.apply(must(f.EncodeRecordCertificate(envAt(t0), ic, binding))).Err; !errors.Is(err, ErrNoAuthority) {
		t.Fatalf("record without a CA: %v", err)
	}
	sealedKey := sealedWith(1, "ca key")
	f.mustApply(must(f.EncodeSetAuthority(envAt(t0), &kmsdpb.CertificateAuthority{Chain: [][]byte{[]byte("ca cert")}, SealedKey: sealedKey})))
	f.mustApply(must(f.EncodeRecordCertificate(envAt(t0), ic, binding)))
	if got := f.resolve(t, "esx1"); got.Tenant != "vsphere" || got.Binding != "pki-esx1" {
		t.Fatalf("the recorded certificate's binding: %+v", got)
	}
	for _, c := range []struct {
		name string
		ic   *kmsdpb.IssuedCertificate
		b    *kmsdpb.PolicyEntry
		want error
	}{
		{"same serial", issuedCert("0abc", "esx1"), binding, ErrExists},
		{"wrong fingerprint", func() *kmsdpb.IssuedCertificate { c := issuedCert("0abd", "esx2"); c.Fingerprint = "00"; return c }(), nil, ErrMalformed},
		{"upper-case serial", issuedCert("0ABE", "esx3"), nil, ErrMalformed},
		{"binding of another name", issuedCert("0abf", "esx4"), bindingOf("other", "vsphere", policy.RoleUser, "esx4"), ErrMalformed},
		{"binding to a missing role", issuedCert("0ac0", "esx5"), bindingOf("pki-esx5", "vsphere", "ghost", "esx5"), ErrPolicyRefused},
	} {
		if err := f.apply(must(f.EncodeRecordCertificate(envAt(t0), c.ic, c.b))).Err; !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if issued, _ := f.IssuedCertificates(); len(issued) != 1 || issued[0].GetIssuedBy() != "operator" {
		t.Fatalf("issued: %v", issued)
	}

	// Snapshot round trip.
	g := newTestFSM(t)
	if err := g.Restore(bytes.NewReader(f.snapshotBytes())); err != nil {
		t.Fatal(err)
	}
	if a, _ := g.CertificateAuthority(); a == nil || !bytes.Equal(a.GetSealedKey(), sealedKey) {
		t.Fatalf("restored authority %v", a)
	}
	if issued, _ := g.IssuedCertificates(); len(issued) != 1 || issued[0].GetSerial() != "0abc" {
		t.Fatalf("restored issued %v", issued)
	}

	// The CA key is sealed with version 1: retiring it waits for a rewrap,
	// which finds the key among the sealed objects.
	if err := f.apply(must(f.EncodeRetireDataKey(envAt(t0), 1))).Err; !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("retire the CA key's version: %v", err)
	}
	page, err := f.SealedObjects("", 10)
	if err != nil || len(page) == 0 || page[0].ID != AuthorityID {
		t.Fatalf("SealedObjects does not list the CA key first: %v %v", page, err)
	}
	res := f.apply(must(f.EncodeRewrap(envAt(t0), []RewrapItem{{ID: AuthorityID, Previous: sealedKey, Sealed: sealedWith(2, "ca key")}})))
	if res.Err != nil || len(res.IDs) != 1 {
		t.Fatalf("rewrap of the CA key: %v %v", res.Err, res.IDs)
	}
	f.mustApply(must(f.EncodeRetireDataKey(envAt(t0), 1)))
}
