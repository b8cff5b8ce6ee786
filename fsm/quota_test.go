package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func quotaEntry(name string, objects, bytes uint64) *kmsdpb.PolicyEntry {
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Tenant{Tenant: &kmsdpb.PolicyTenant{MaxObjects: objects, MaxBytes: bytes}}}
}

func (f *testFSM) setQuota(entries ...*kmsdpb.PolicyEntry) {
	f.t.Helper()
	f.mustApply(mustEntry(f.t)(f.EncodeSetPolicy(envAt(t0), entries)))
}

func addAttrEntry(t testing.TB, actor, id string, a kmip.Attribute) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ADD_ATTRIBUTE, env(actor, t0), &kmsdpb.AddAttribute{Id: id, Attribute: EncodeAttribute(a)})
}

func modifyAttrEntry(t testing.TB, actor, id string, a kmip.Attribute) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MODIFY_ATTRIBUTE, env(actor, t0), &kmsdpb.ModifyAttribute{Id: id, Attribute: EncodeAttribute(a)})
}

// keyOf is the entry that creates alice's key id.
func keyOf(t testing.TB, id string) []byte {
	return createEntry(t, alice, t0, storedObject(id, symKey(id)))
}

// recountUsage sums the objects table, as Restore does.
func recountUsage(f *FSM) []TenantUsage {
	it, err := f.readTxn().Get(tableObjects, indexID)
	if err != nil {
		panic(err)
	}
	c := usageCounter{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		c.add(raw.(*row))
	}
	var out []TenantUsage
	for _, u := range c {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b TenantUsage) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out
}

// checkUsage fails unless the usage table equals the sum over the objects.
func checkUsage(t *testing.T, f *FSM) []TenantUsage {
	t.Helper()
	got, err := f.TenantUsages()
	if err != nil {
		t.Fatal(err)
	}
	if want := recountUsage(f); !slices.Equal(got, want) {
		t.Fatalf("usage table %v, sum over the objects %v", got, want)
	}
	return got
}

func wantQuotaErr(t *testing.T, res *Result, want error) {
	t.Helper()
	if !errors.Is(res.Err, want) || !errors.Is(res.Err, ErrQuotaExceeded) {
		t.Fatalf("error %v, want %v", res.Err, want)
	}
}

func TestUsageFollowsEveryChange(t *testing.T) {
	f := newTestFSM(t)
	if u := f.TenantUsage(alice); u != (TenantUsage{Tenant: alice}) {
		t.Fatalf("empty store: %+v", u)
	}
	k1 := storedObject("k1", symKey("k1"))
	k1.SealedMaterial = bytes.Repeat([]byte{7}, 200)
	f.mustApply(createEntry(t, alice, t0, k1))
	f.mustApply(createEntry(t, bob, t0, storedObject("b1", symKey("b1"))))
	one := f.TenantUsage(alice)
	if one.Objects != 1 || one.Bytes != uint64(len(f.stored("k1").data)) {
		t.Fatalf("after one create: %+v, row of %d bytes", one, len(f.stored("k1").data))
	}
	f.mustApply(keyOf(t, "k2"))
	f.mustApply(addAttrEntry(t, alice, "k2", attr("x-note", custom("some words"))))
	f.mustApply(activateEntry(t, alice, t0, "k2"))
	checkUsage(t, f.FSM)
	before := f.TenantUsage(alice)
	f.mustApply(destroyEntry(t, alice, t0, "k1"))
	after := f.TenantUsage(alice)
	if after.Objects != 2 || after.Bytes >= before.Bytes {
		t.Fatalf("destroy keeps the row but drops its material: %+v then %+v", before, after)
	}
	checkUsage(t, f.FSM)
	// A template has no life-cycle: Destroy removes its row.
	tpl := storedObject("tpl", []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeTemplate)})
	tpl.SealedMaterial = nil
	f.mustApply(createEntry(t, alice, t0, tpl))
	f.mustApply(destroyEntry(t, alice, t0, "tpl"))
	if u := f.TenantUsage(alice); u != after {
		t.Fatalf("after a template came and went: %+v, want %+v", u, after)
	}
	f.mustApply(destroyEntry(t, bob, t0, "b1"))
	f.mustApply(revokeEntry(t, alice, t0, &kmsdpb.Revoke{Id: "k2", ReasonCode: 1}))
	f.mustApply(destroyEntry(t, alice, t0, "k2"))
	got := checkUsage(t, f.FSM)
	if len(got) != 2 {
		t.Fatalf("usage %v: destroyed objects still count", got)
	}
}

func TestObjectQuotaStopsCreatesAtTheLimit(t *testing.T) {
	f := newTestFSM(t)
	f.setQuota(quotaEntry(alice, 4, 0))
	f.mustApply(keyOf(t, "k1"))
	// A key pair is two objects, all or nothing.
	pair := func(a, b string) []byte {
		return createEntry(t, alice, t0,
			storedObject(a, []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypePrivateKey)}),
			storedObject(b, []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypePublicKey)}))
	}
	f.mustApply(pair("priv1", "pub1"))
	// A registered object (client material) is the same command.
	secret := storedObject("s1", []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData)})
	f.mustApply(createEntry(t, alice, t0, secret))
	if u := f.TenantUsage(alice); u.Objects != 4 {
		t.Fatalf("at the limit: %+v", u)
	}
	full := f.digest()
	wantQuotaErr(t, f.apply(keyOf(t, "k2")), ErrObjectQuota)
	wantQuotaErr(t, f.apply(pair("priv2", "pub2")), ErrObjectQuota)
	wantQuotaErr(t, f.apply(rekeyEntry(t, alice, t0, rekeyBody("k1", "k1b"))), ErrObjectQuota)
	if f.digest() != full || f.TenantUsage(alice).Objects != 4 {
		t.Fatal("a refused create changed the store")
	}
	// Other tenants are not counted against alice's quota.
	f.mustApply(createEntry(t, bob, t0, storedObject("b1", symKey("b1"))))

	// One slot left: one key fits, a pair does not.
	f.setQuota(quotaEntry(alice, 5, 0))
	wantQuotaErr(t, f.apply(pair("priv2", "pub2")), ErrObjectQuota)
	f.mustApply(rekeyEntry(t, alice, t0, rekeyBody("k1", "k1b")))
	checkUsage(t, f.FSM)
}

func TestDefaultQuota(t *testing.T) {
	f := newTestFSM(t)
	// "*" limits every tenant without an entry; an entry of 0 lifts it.
	f.setQuota(quotaEntry("*", 1, 0), quotaEntry(bob, 0, 0))
	f.mustApply(keyOf(t, "k1"))
	wantQuotaErr(t, f.apply(keyOf(t, "k2")), ErrObjectQuota)
	for i := range 3 {
		f.mustApply(createEntry(t, bob, t0, storedObject(fmt.Sprint("b", i), symKey("b"))))
	}
	// A tenant entry of its own replaces the default.
	f.setQuota(quotaEntry(alice, 2, 0))
	f.mustApply(keyOf(t, "k2"))
	// Deleting it restores the default, already exceeded.
	f.mustApply(mustEntry(t)(f.EncodeDeletePolicyEntry(envAt(t0), alice)))
	wantQuotaErr(t, f.apply(keyOf(t, "k3")), ErrObjectQuota)
}

func TestByteQuotaStopsGrowthExactlyAtTheLimit(t *testing.T) {
	f := newTestFSM(t)
	note := attr("x-note", custom(strings.Repeat("n", 100)))
	// The growth of one Add Attribute, measured on a tenant without quota.
	f.mustApply(createEntry(t, bob, t0, storedObject("p1", symKey("k1"))))
	b0 := f.TenantUsage(bob).Bytes
	f.mustApply(addAttrEntry(t, bob, "p1", note))
	grow := f.TenantUsage(bob).Bytes - b0

	f.mustApply(keyOf(t, "k1"))
	used := f.TenantUsage(alice).Bytes
	if used != b0 {
		t.Fatalf("two equal objects count %d and %d bytes", used, b0)
	}
	f.setQuota(quotaEntry(alice, 0, used+grow))
	f.mustApply(addAttrEntry(t, alice, "k1", note))
	if u := f.TenantUsage(alice).Bytes; u != used+grow {
		t.Fatalf("at the limit: %d bytes, want %d", u, used+grow)
	}
	full := f.digest()
	wantQuotaErr(t, f.apply(addAttrEntry(t, alice, "k1", note)), ErrByteQuota)
	wantQuotaErr(t, f.apply(keyOf(t, "k2")), ErrByteQuota)
	// A larger value grows the row (TTLV pads text to 8 bytes); an equal or
	// smaller one does not.
	wantQuotaErr(t, f.apply(modifyAttrEntry(t, alice, "k1", attr("x-note", custom(strings.Repeat("n", 105))))), ErrByteQuota)
	if f.digest() != full {
		t.Fatal("a refused command changed the store")
	}
	f.mustApply(modifyAttrEntry(t, alice, "k1", attr("x-note", custom(strings.Repeat("m", 100)))))
	f.mustApply(modifyAttrEntry(t, alice, "k1", attr("x-note", custom("short"))))
	// Freed bytes can be used again.
	f.mustApply(addAttrEntry(t, alice, "k1", attr("x-more", custom("abc"))))
	checkUsage(t, f.FSM)
}

func TestLoweredQuotaOnlyBlocksGrowth(t *testing.T) {
	f := newTestFSM(t)
	for _, id := range []string{"k1", "k2", "k3"} {
		f.mustApply(keyOf(t, id))
	}
	f.mustApply(addAttrEntry(t, alice, "k1", attr("x-note", custom(strings.Repeat("n", 500)))))
	used := f.TenantUsage(alice)
	// A quota below current usage is accepted.
	f.setQuota(quotaEntry(alice, 1, used.Bytes/2))
	wantQuotaErr(t, f.apply(keyOf(t, "k4")), ErrObjectQuota)
	wantQuotaErr(t, f.apply(addAttrEntry(t, alice, "k2", attr("x-note", custom("n")))), ErrByteQuota)
	// Changes that do not grow the tenant go through, life-cycle ones too.
	f.mustApply(modifyAttrEntry(t, alice, "k1", attr("x-note", custom("shorter"))))
	f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_DELETE_ATTRIBUTE, env(alice, t0), &kmsdpb.DeleteAttribute{Id: "k1", Name: "x-note"}))
	f.mustApply(activateEntry(t, alice, t0, "k2"))
	f.mustApply(revokeEntry(t, alice, t0, &kmsdpb.Revoke{Id: "k2", ReasonCode: 1}))
	f.mustApply(destroyEntry(t, alice, t0, "k3"))
	if u := f.TenantUsage(alice); u.Objects != 3 || u.Bytes >= used.Bytes {
		t.Fatalf("after shrinking: %+v, before %+v", u, used)
	}
	checkUsage(t, f.FSM)
}

func TestObjectAttributeLimitsInApply(t *testing.T) {
	f := newTestFSM(t)
	attrs := symKey("k")
	for len(attrs) < MaxObjectAttrs-10 {
		attrs = append(attrs, attr("x-n", custom(int32(len(attrs)))))
	}
	f.mustApply(createEntry(t, alice, t0, storedObject("k", attrs)))
	have := len(f.get("k").Attrs)
	for ; have < MaxObjectAttrs; have++ {
		f.mustApply(addAttrEntry(t, alice, "k", attr("x-n", custom(int32(have)))))
	}
	if res := f.apply(addAttrEntry(t, alice, "k", attr("x-n", custom(int32(0))))); !errors.Is(res.Err, ErrTooManyAttrs) {
		t.Fatalf("add to an object of %d attributes: %v", have, res.Err)
	}
	if got := len(f.get("k").Attrs); got != MaxObjectAttrs {
		t.Fatalf("%d attributes, want %d", got, MaxObjectAttrs)
	}

	big := attr("x-big", custom(strings.Repeat("b", MaxAttrBytes)))
	if n := len(EncodeAttribute(big)); n <= MaxAttrBytes {
		t.Fatalf("test attribute of %d bytes is not over the limit", n)
	}
	fits := attr("x-big", custom(strings.Repeat("b", MaxAttrBytes-64)))
	f.mustApply(keyOf(t, "k2"))
	for name, e := range map[string][]byte{
		"create": createEntry(t, alice, t0, storedObject("k3", symKey("k3", big))),
		"add":    addAttrEntry(t, alice, "k2", big),
		"modify": modifyAttrEntry(t, alice, "k2", big),
		"rekey":  rekeyEntry(t, alice, t0, &kmsdpb.Rekey{OldId: "k2", Replacement: storedObject("k4", nil), AddedAttributes: encodeAll(big)}),
	} {
		if res := f.apply(e); !errors.Is(res.Err, ErrAttrTooLarge) {
			t.Errorf("%s with an attribute over %d bytes: %v", name, MaxAttrBytes, res.Err)
		}
	}
	f.mustApply(addAttrEntry(t, alice, "k2", fits))
	checkUsage(t, f.FSM)
}

// TestConcurrentCreatesInOneBatch proposes more creates than the quota
// admits, and more attribute adds than an object admits, in one batch:
// exactly the first ones apply, as when applied one by one, and the
// replicas end equal.
func TestConcurrentCreatesInOneBatch(t *testing.T) {
	const quota, proposed = 5, 12
	var log [][]byte
	log = append(log, mustEntry(t)(New(Config{}).EncodeSetPolicy(envAt(t0), []*kmsdpb.PolicyEntry{quotaEntry(alice, quota, 0)})))
	attrs := symKey("full")
	for len(attrs) < MaxObjectAttrs-10 {
		attrs = append(attrs, attr("x-n", custom(int32(len(attrs)))))
	}
	log = append(log, createEntry(t, bob, t0, storedObject("full", attrs)))
	probe := New(Config{})
	probe.ApplyLogs([]uint64{1, 2}, log)
	full, err := probe.Get("full")
	if err != nil {
		t.Fatal(err)
	}
	room := MaxObjectAttrs - len(full.Attrs)
	for i := range proposed {
		log = append(log, keyOf(t, fmt.Sprint("k", i)))
		log = append(log, addAttrEntry(t, bob, "full", attr("x-n", custom(int32(i)))))
	}
	indexes := make([]uint64, len(log))
	for i := range log {
		indexes[i] = uint64(i + 1)
	}

	batched := New(Config{})
	results := batched.ApplyLogs(indexes, log)
	created, added := 0, 0
	for i, r := range results[2:] {
		res := r.(*Result)
		switch {
		case res.Err == nil && i%2 == 0:
			created++
		case res.Err == nil:
			added++
		case i%2 == 0:
			wantQuotaErr(t, res, ErrObjectQuota)
		case !errors.Is(res.Err, ErrTooManyAttrs):
			t.Fatalf("entry %d: %v", i+3, res.Err)
		}
	}
	if created != quota || batched.TenantUsage(alice).Objects != quota {
		t.Fatalf("%d of %d creates applied, usage %+v, quota %d", created, proposed, batched.TenantUsage(alice), quota)
	}
	if o, _ := batched.Get("full"); added != room || len(o.Attrs) != MaxObjectAttrs {
		t.Fatalf("%d adds applied, %d attributes, want %d adds and %d attributes", added, len(o.Attrs), room, MaxObjectAttrs)
	}

	one := New(Config{})
	for i, e := range log {
		one.Apply(indexes[i], e)
	}
	d1, _ := one.Digest()
	d2, _ := batched.Digest()
	u1, _ := one.TenantUsages()
	u2, _ := batched.TenantUsages()
	if d1 != d2 || !slices.Equal(u1, u2) {
		t.Fatalf("replicas differ: digests %x %x, usage %v %v", d1, d2, u1, u2)
	}
	checkUsage(t, batched)
}

// TestUsageRecomputedByRestore: usage is not in snapshots; a restored store
// has the same usage as the one snapshotted, and still enforces quotas.
func TestUsageRecomputedByRestore(t *testing.T) {
	f := newTestFSM(t)
	rng := rand.New(rand.NewPCG(7, 0))
	for _, e := range randomLog(t, rng, 400) {
		f.apply(e)
	}
	for i := range 20 {
		f.mustApply(createEntry(t, bob, t0, storedObject(fmt.Sprint("b", i), symKey("b"))))
	}
	want := checkUsage(t, f.FSM)
	if len(want) != 2 {
		t.Fatalf("usage %v: the log should leave objects of both tenants", want)
	}
	f.setQuota(quotaEntry(bob, 20, 0))
	snap := f.snapshotBytes()
	if bytes.Contains(snap, []byte(tableUsage)) {
		t.Fatal("the snapshot names the usage table")
	}

	r := New(Config{})
	if err := r.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.TenantUsages(); !slices.Equal(got, want) {
		t.Fatalf("restored usage %v, want %v", got, want)
	}
	checkUsage(t, r)
	if d, _ := r.Digest(); d != f.digest() {
		t.Fatal("restored digest differs")
	}
	res := r.Apply(f.next, createEntry(t, bob, t0, storedObject("b20", symKey("b"))))
	wantQuotaErr(t, res, ErrObjectQuota)

	// A restore replaces the usage of the store it lands in.
	f.mustApply(createEntry(t, alice, t0, storedObject("extra", symKey("x"))))
	if err := f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := checkUsage(t, f.FSM); !slices.Equal(got, want) {
		t.Fatalf("usage after restoring over a store: %v, want %v", got, want)
	}
}

// TestUsageWithRandomLogs checks the usage table against the objects after
// random logs applied in random batches, undo steps included.
func TestUsageWithRandomLogs(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 1))
		f := New(Config{})
		log := randomLog(t, rng, 300)
		for start := 0; start < len(log); {
			end := min(len(log), start+1+rng.IntN(40))
			var idx []uint64
			for i := start; i < end; i++ {
				idx = append(idx, uint64(i+1))
			}
			f.ApplyLogs(idx, log[start:end])
			start = end
		}
		checkUsage(t, f)
	}
}

func TestUndoKeepsUsage(t *testing.T) {
	f := newTestFSM(t)
	f.mustApply(keyOf(t, "k1"))
	before := f.TenantUsage(alice)
	e := env(alice, t0)
	e.Undoable = true
	res := f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, e, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{storedObject("k2", symKey("k2"))}}))
	if f.TenantUsage(alice).Objects != 2 {
		t.Fatal("create not counted")
	}
	f.mustApply(mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_UNDO, env(alice, t0), res.Undo))
	if u := f.TenantUsage(alice); u != before {
		t.Fatalf("after undo: %+v, want %+v", u, before)
	}
	checkUsage(t, f.FSM)
}

func TestQuotaErrorsCrossForwarding(t *testing.T) {
	f := New(Config{})
	for _, want := range []error{ErrObjectQuota, ErrByteQuota, ErrTooManyAttrs, ErrAttrTooLarge} {
		b, err := f.EncodeResult(&Result{Index: 3, Err: fmt.Errorf("wrapped: %w", want)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.DecodeResult(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.(*Result).Err; got != want {
			t.Errorf("%v came back as %v", want, got)
		}
	}
	if errors.Is(ErrObjectQuota, ErrByteQuota) || errors.Is(ErrByteQuota, ErrObjectQuota) {
		t.Error("the two quota errors match each other")
	}
}
