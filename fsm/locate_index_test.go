package fsm

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// referenceLocate is Locate as a plain walk of every object of the store:
// the rules of Locate with none of its indexes, to compare it with.
func referenceLocate(f *FSM, q Query) ([]string, int) {
	it, err := f.readTxn().Get(tableObjects, indexID)
	if err != nil {
		panic(err)
	}
	groups := groupFilters(q.Filters)
	byState := slices.ContainsFunc(groups, func(g filterGroup) bool { return g.name == kmip.AttributeNameState })
	online := q.Storage == 0 || q.Storage&kmip.StorageStatusOnlineStorage != 0
	archival := q.Storage&kmip.StorageStatusArchivalStorage != 0
	var found []*Object
	for raw := it.Next(); raw != nil; raw = it.Next() {
		o, err := raw.(*row).object()
		if err != nil {
			panic(err)
		}
		if o.Owner != q.Owner {
			continue
		}
		if !byState && isDestroyed(o.StoredState()) {
			continue
		}
		if o.Archived() && !archival || !o.Archived() && !online {
			continue
		}
		if q.GroupMember == kmip.ObjectGroupMemberFresh {
			if v, _ := o.Attr(kmip.AttributeNameFresh); v != true {
				continue
			}
		}
		if !slices.ContainsFunc(groups, func(g filterGroup) bool { return !matches(o, g, q.Now) }) {
			found = append(found, o)
		}
	}
	slices.SortFunc(found, func(a, b *Object) int {
		return cmp.Or(cmp.Compare(a.Revision, b.Revision), cmp.Compare(a.ID, b.ID))
	})
	if q.GroupMember == kmip.ObjectGroupMemberDefault && len(found) > 1 {
		found = found[:1]
	}
	total := len(found)
	found = found[min(max(q.Offset, 0), len(found)):]
	if q.MaxItems > 0 && len(found) > q.MaxItems {
		found = found[:q.MaxItems]
	}
	var ids []string
	for _, o := range found {
		ids = append(ids, o.ID)
	}
	return ids, total
}

// Value pools of the random store: small, so that queries find something.
var (
	randOwners  = []string{alice, bob, "carol"}
	randNames   = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}
	randGroups  = []string{"g1", "g2", "g3", "default"}
	randTeams   = []string{"red", "blue", "green"}
	randTypes   = []kmip.ObjectType{kmip.ObjectTypeSymmetricKey, kmip.ObjectTypeSymmetricKey, kmip.ObjectTypePublicKey, kmip.ObjectTypePrivateKey, kmip.ObjectTypeSecretData, kmip.ObjectTypeTemplate}
	randAlgs    = []kmip.CryptographicAlgorithm{kmip.CryptographicAlgorithmAES, kmip.CryptographicAlgorithmRSA, kmip.CryptographicAlgorithm3DES}
	randLengths = []int32{128, 256, 2048}
	randStates  = []kmip.State{kmip.StatePreActive, kmip.StateActive, kmip.StateDeactivated, kmip.StateCompromised, kmip.StateDestroyed, kmip.StateDestroyedCompromised}
	randMasks   = []kmip.CryptographicUsageMask{0, kmip.CryptographicUsageEncrypt, kmip.CryptographicUsageDecrypt, kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt, kmip.CryptographicUsageSign}
	randZones   = []*time.Location{time.UTC, time.FixedZone("E", 3600), time.FixedZone("W", -5*3600)}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// randMinute is a command or date time within the random store's span.
func randMinute(rng *rand.Rand, span int) time.Time {
	return sec(t0.Add(time.Duration(rng.IntN(span)) * time.Minute))
}

func randAttrs(rng *rand.Rand, ids []string, span int) []kmip.Attribute {
	typ := pick(rng, randTypes)
	attrs := []kmip.Attribute{attr(kmip.AttributeNameObjectType, typ)}
	if rng.IntN(4) > 0 {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicAlgorithm, pick(rng, randAlgs)))
	}
	if rng.IntN(4) > 0 {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicLength, pick(rng, randLengths)))
	}
	for range rng.IntN(3) {
		attrs = append(attrs, attr(kmip.AttributeNameName, kmip.Name{NameValue: pick(rng, randNames), NameType: kmip.NameType(1 + rng.IntN(2))}))
	}
	for range rng.IntN(3) {
		attrs = append(attrs, attr(kmip.AttributeNameObjectGroup, pick(rng, randGroups)))
	}
	if len(ids) > 0 && rng.IntN(3) == 0 {
		attrs = append(attrs, attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkType(1 + rng.IntN(3)), LinkedObjectIdentifier: pick(rng, ids)}))
	}
	if rng.IntN(2) == 0 {
		attrs = append(attrs, attr("x-team", custom(pick(rng, randTeams))))
	}
	if rng.IntN(3) == 0 {
		attrs = append(attrs, attr("x-count", custom(int32(rng.IntN(3)))))
	}
	if rng.IntN(3) == 0 {
		attrs = append(attrs, attr("x-when", custom(randMinute(rng, 4).In(pick(rng, randZones)))))
	}
	if rng.IntN(2) == 0 {
		attrs = append(attrs, attr(kmip.AttributeNameCryptographicUsageMask, pick(rng, randMasks[1:])))
	}
	if rng.IntN(3) == 0 {
		attrs = append(attrs, attr(kmip.AttributeNameActivationDate, randMinute(rng, span)))
	}
	if rng.IntN(4) == 0 {
		attrs = append(attrs, attr(kmip.AttributeNameDeactivationDate, randMinute(rng, span)))
	}
	if rng.IntN(2) == 0 {
		attrs = append(attrs, attr(kmip.AttributeNameFresh, rng.IntN(3) > 0))
	}
	return attrs
}

// randomStore builds a store of n objects with random attributes, then
// changes them with random commands, the failing ones included.
func randomStore(t *testing.T, rng *rand.Rand, n int) (*testFSM, []string) {
	f := newTestFSM(t)
	span := n / 2
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o%04d", i)
		owner := pick(rng, randOwners)
		objs := []*kmsdpb.StoredObject{storedObject(id, randAttrs(rng, ids, span))}
		if rng.IntN(10) == 0 {
			// A pair in one command: the same Revision, ordered by id.
			objs = append([]*kmsdpb.StoredObject{storedObject(id+"-b", randAttrs(rng, ids, span))}, objs...)
			ids = append(ids, id+"-b")
		}
		f.apply(createEntry(t, owner, randMinute(rng, span), objs...))
		ids = append(ids, id)
	}
	ops := []func(actor, id string, at time.Time) []byte{
		func(a, id string, at time.Time) []byte { return activateEntry(t, a, at, id) },
		func(a, id string, at time.Time) []byte { return revokeEntry(t, a, at, compromise(id)) },
		func(a, id string, at time.Time) []byte { return revokeEntry(t, a, at, supersede(id)) },
		func(a, id string, at time.Time) []byte { return destroyEntry(t, a, at, id) },
		func(a, id string, at time.Time) []byte { return archiveEntry(t, a, at, id) },
		func(a, id string, at time.Time) []byte { return recoverEntry(t, a, at, id) },
		func(a, id string, at time.Time) []byte { return notFreshEntry(t, a, at, id) },
		func(a, id string, at time.Time) []byte {
			return rekeyEntry(t, a, at, &kmsdpb.Rekey{OldId: id, Replacement: &kmsdpb.StoredObject{Id: id + "-r" + fmt.Sprint(rng.IntN(1000)), SealedMaterial: []byte("m")}})
		},
		func(a, id string, at time.Time) []byte {
			add := pick(rng, []kmip.Attribute{
				attr(kmip.AttributeNameName, kmip.Name{NameValue: pick(rng, randNames), NameType: kmip.NameTypeUninterpretedTextString}),
				attr(kmip.AttributeNameObjectGroup, pick(rng, randGroups)),
				attr("x-team", custom(pick(rng, randTeams))),
			})
			return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ADD_ATTRIBUTE, env(a, at), &kmsdpb.AddAttribute{Id: id, Attribute: EncodeAttribute(add)})
		},
		func(a, id string, at time.Time) []byte {
			mod := attr(kmip.AttributeNameName, kmip.Name{NameValue: pick(rng, randNames), NameType: kmip.NameTypeUninterpretedTextString})
			return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_MODIFY_ATTRIBUTE, env(a, at), &kmsdpb.ModifyAttribute{Id: id, Attribute: EncodeAttribute(mod)})
		},
		func(a, id string, at time.Time) []byte {
			name := pick(rng, []kmip.AttributeName{kmip.AttributeNameName, kmip.AttributeNameObjectGroup, "x-team"})
			return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_DELETE_ATTRIBUTE, env(a, at), &kmsdpb.DeleteAttribute{Id: id, Name: string(name)})
		},
	}
	for range 2 * n {
		id := pick(rng, ids)
		o, err := f.Get(id)
		if err != nil {
			continue
		}
		f.apply(pick(rng, ops)(o.Owner, id, randMinute(rng, span)))
	}
	return f, ids
}

// randQuery draws a query over the random store's value pools.
func randQuery(rng *rand.Rand, ids []string, span int) Query {
	q := Query{Owner: pick(rng, randOwners), Now: randMinute(rng, span+60)}
	filters := []func() []kmip.Attribute{
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameName, kmip.Name{NameValue: pick(rng, randNames), NameType: kmip.NameType(rng.IntN(3))})}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameObjectType, pick(rng, randTypes))}
		},
		func() []kmip.Attribute { return []kmip.Attribute{attr(kmip.AttributeNameState, pick(rng, randStates))} },
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, pick(rng, randAlgs))}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, pick(rng, randLengths))}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, pick(rng, randGroups))}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkType(1 + rng.IntN(3)), LinkedObjectIdentifier: pick(rng, ids)})}
		},
		func() []kmip.Attribute { return []kmip.Attribute{attr("x-team", custom(pick(rng, randTeams)))} },
		func() []kmip.Attribute {
			if rng.IntN(2) == 0 {
				return []kmip.Attribute{attr("x-count", custom(int64(rng.IntN(3))))}
			}
			return []kmip.Attribute{attr("x-count", custom(int32(rng.IntN(3))))}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr("x-when", custom(randMinute(rng, 4).In(pick(rng, randZones))))}
		},
		// Values with the key of stored ones that match none: a time
		// between two seconds, a value with another tag.
		func() []kmip.Attribute {
			return []kmip.Attribute{attr("x-when", custom(randMinute(rng, 4).Add(time.Millisecond)))}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr("x-team", ttlv.Value{Tag: kmip.TagComment, Value: pick(rng, randTeams)})}
		},
		func() []kmip.Attribute {
			return []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, pick(rng, randMasks))}
		},
		func() []kmip.Attribute {
			lo := randMinute(rng, span)
			return []kmip.Attribute{attr(kmip.AttributeNameInitialDate, lo), attr(kmip.AttributeNameInitialDate, lo.Add(time.Duration(rng.IntN(span))*time.Minute))}
		},
		func() []kmip.Attribute { return []kmip.Attribute{attr(kmip.AttributeNameFresh, rng.IntN(2) == 0)} },
		// A value of another type than the attribute's matches nothing.
		func() []kmip.Attribute { return []kmip.Attribute{attr(kmip.AttributeNameObjectType, "symmetric")} },
	}
	for range rng.IntN(4) {
		q.Filters = append(q.Filters, pick(rng, filters)()...)
	}
	switch rng.IntN(6) {
	case 0:
		q.Storage = kmip.StorageStatusArchivalStorage
	case 1:
		q.Storage = kmip.StorageStatusOnlineStorage | kmip.StorageStatusArchivalStorage
	}
	switch rng.IntN(8) {
	case 0:
		q.GroupMember = kmip.ObjectGroupMemberFresh
	case 1:
		q.GroupMember = kmip.ObjectGroupMemberDefault
	}
	if rng.IntN(3) == 0 {
		q.Offset, q.MaxItems = rng.IntN(20), rng.IntN(20)
	}
	return q
}

// TestLocateMatchesReference compares the indexed Locate with a plain walk
// of the store on random stores and random queries.
func TestLocateMatchesReference(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x6b6d7364))
			const n, queries = 500, 1500
			f, ids := randomStore(t, rng, n)
			found := 0
			for i := range queries {
				q := randQuery(rng, ids, n/2)
				got, gotTotal, err := f.Locate(q)
				if err != nil {
					t.Fatalf("query %d: Locate: %v", i, err)
				}
				want, wantTotal := referenceLocate(f.FSM, q)
				if !slices.Equal(got, want) || gotTotal != wantTotal {
					t.Fatalf("query %d %+v:\n got %v (total %d)\nwant %v (total %d)", i, q, got, gotTotal, want, wantTotal)
				}
				if wantTotal > 0 {
					found++
				}
			}
			// The pools are small enough that most queries find something.
			if found < queries/3 {
				t.Errorf("only %d of %d queries found anything", found, queries)
			}
		})
	}
}

// TestLocateReadsOnlyCandidates checks that Locate reads the objects of the
// filters' index keys, not the tenant's other objects nor another tenant's.
func TestLocateReadsOnlyCandidates(t *testing.T) {
	f := newTestFSM(t)
	for i := range 300 {
		id := fmt.Sprintf("k%03d", i)
		owner := alice
		if i%3 == 0 {
			owner = bob
		}
		extra := []kmip.Attribute{attr("x-NETAPP-ClusterId", custom(fmt.Sprintf("c%d", i%2)))}
		if i%50 == 0 {
			extra = append(extra, attr(kmip.AttributeNameObjectGroup, "rare"))
		}
		f.mustApply(createEntry(t, owner, t0, storedObject(id, symKey("shared", extra...))))
	}
	f.mustApply(createEntry(t, alice, t0, storedObject("secret", []kmip.Attribute{
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData), name("unique")})))
	tests := []struct {
		name    string
		owner   string
		filters []kmip.Attribute
		total   int
		maxRead int
	}{
		{"name of one object", alice, []kmip.Attribute{name("unique")}, 1, 1},
		{"name shared by the tenant", alice, []kmip.Attribute{name("shared")}, 200, 200},
		{"same name other tenant", bob, []kmip.Attribute{name("shared")}, 100, 100},
		{"name not of this tenant", bob, []kmip.Attribute{name("unique")}, 0, 0},
		{"custom attribute", alice, []kmip.Attribute{attr("x-NETAPP-ClusterId", custom("c1"))}, 100, 100},
		{"rare group and common type", alice, []kmip.Attribute{
			attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey), attr(kmip.AttributeNameObjectGroup, "rare")}, 4, 4},
		{"rare type", alice, []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData)}, 1, 1},
		{"rare type and common custom", alice, []kmip.Attribute{
			attr("x-NETAPP-ClusterId", custom("c1")), attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData)}, 0, 1},
		{"whole tenant", bob, nil, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, total, read, err := f.locate(Query{Owner: tt.owner, Now: locateNow, Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			if total != tt.total || len(ids) != tt.total || read > tt.maxRead {
				t.Errorf("total %d, %d ids, read %d objects; want total %d reading at most %d", total, len(ids), read, tt.total, tt.maxRead)
			}
			for _, id := range ids {
				if o := f.get(id); o.Owner != tt.owner {
					t.Errorf("found %s of %s", id, o.Owner)
				}
			}
		})
	}
}

// TestLocateTenantIsolation: two tenants with the same attributes on every
// object never see each other's objects, whatever the query.
func TestLocateTenantIsolation(t *testing.T) {
	f := newTestFSM(t)
	attrs := func(i int) []kmip.Attribute {
		return symKey(fmt.Sprint("k", i%5), attr(kmip.AttributeNameObjectGroup, "g"), attr("x-app", custom("db")),
			attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypeParentLink, LinkedObjectIdentifier: "root"}))
	}
	// Owners that are prefixes of each other, or would be without a length
	// prefix before the owner in the keys.
	owners := []string{"a", "ab", "a\x00b", "\x01a"}
	for i := range 40 {
		owner := owners[i%len(owners)]
		f.mustApply(createEntry(t, owner, t0, storedObject(fmt.Sprintf("%q-%d", owner, i), attrs(i))))
	}
	queries := [][]kmip.Attribute{
		nil,
		{name("k1")},
		{attr(kmip.AttributeNameObjectGroup, "g")},
		{attr("x-app", custom("db"))},
		{attr(kmip.AttributeNameLink, kmip.Link{LinkType: kmip.LinkTypeParentLink, LinkedObjectIdentifier: "root"})},
		{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey), attr(kmip.AttributeNameState, kmip.StatePreActive)},
	}
	for _, owner := range append(owners, "", "b") {
		for _, filters := range queries {
			ids, total, err := f.Locate(Query{Owner: owner, Now: t0, Filters: filters})
			if err != nil {
				t.Fatal(err)
			}
			want, wantTotal := referenceLocate(f.FSM, Query{Owner: owner, Now: t0, Filters: filters})
			if !slices.Equal(ids, want) || total != wantTotal {
				t.Errorf("owner %q filters %v: %v (%d), want %v (%d)", owner, filters, ids, total, want, wantTotal)
			}
			for _, id := range ids {
				if o := f.get(id); o.Owner != owner {
					t.Errorf("owner %q found %s of %q", owner, id, o.Owner)
				}
			}
		}
	}
}

// TestLocatePagingUnderInserts pages through a tenant's keys while other
// keys are being created: every key that existed at the start is listed
// exactly once, and no key twice.
func TestLocatePagingUnderInserts(t *testing.T) {
	f := New(Config{})
	const initial, added, page = 300, 600, 7
	var log [][]byte
	for i := range initial + added {
		id := fmt.Sprintf("k%04d", i)
		log = append(log, createEntry(t, alice, t0.Add(time.Duration(i)*time.Second), storedObject(id, symKey(id))))
		if i%5 == 0 {
			log = append(log, activateEntry(t, alice, t0.Add(time.Duration(i)*time.Second), id))
		}
	}
	next := uint64(1)
	applyUntil := func(objects int) {
		for ; f.Count() < objects; next++ {
			if res := f.Apply(next, log[next-1]); res.Err != nil {
				t.Error(res.Err)
				return
			}
		}
	}
	applyUntil(initial)
	existing := map[string]bool{}
	for _, id := range allIDs(t, f) {
		existing[id] = true
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		for ; next <= uint64(len(log)); next++ {
			if res := f.Apply(next, log[next-1]); res.Err != nil {
				t.Error(res.Err)
				return
			}
		}
	})
	seen := map[string]int{}
	symmetric := []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey)}
	for offset := 0; ; offset += page {
		ids, total, err := f.Locate(Query{Owner: alice, Now: t0, Filters: symmetric, Offset: offset, MaxItems: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			seen[id]++
		}
		if len(ids) < page && offset+len(ids) >= total {
			break
		}
	}
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Errorf("%s, present at the start, listed %d times", id, seen[id])
		}
	}
}

// TestLocateCustomAttributeIndex finds custom attributes of every TTLV type
// through the index, a Date-Time in any time zone, and an Integer apart from
// a Long Integer of the same number.
func TestLocateCustomAttributeIndex(t *testing.T) {
	f := newTestFSM(t)
	when := time.Date(2031, 7, 1, 12, 0, 0, 0, time.UTC)
	var values []kmip.Attribute
	for _, a := range roundTripAttrs() {
		if a.AttributeName.IsCustom() {
			values = append(values, a)
		}
	}
	f.mustApply(createEntry(t, alice, t0, storedObject("all", symKey("all", values...))))
	f.mustApply(createEntry(t, alice, t0, storedObject("zoned", symKey("zoned", attr("x-when", custom(when.In(time.FixedZone("Z", 9*3600))))))))
	f.mustApply(createEntry(t, alice, t0, storedObject("int", symKey("int", attr("x-n", custom(int32(7)))))))
	f.mustApply(createEntry(t, alice, t0, storedObject("long", symKey("long", attr("x-n", custom(int64(7)))))))
	f.mustApply(createEntry(t, bob, t0, storedObject("bob", symKey("bob", attr("x-n", custom(int32(7)))))))
	for _, a := range values {
		t.Run(string(a.AttributeName), func(t *testing.T) {
			ids, _, read, err := f.locate(Query{Owner: alice, Now: t0, Filters: []kmip.Attribute{a}})
			if err != nil || !slices.Equal(ids, []string{"all"}) || read != 1 {
				t.Errorf("Locate = %v (read %d), %v", ids, read, err)
			}
		})
	}
	for _, tc := range []struct {
		name string
		a    kmip.Attribute
		want []string
	}{
		{"date other zone", attr("x-when", custom(when.Local())), []string{"zoned"}},
		{"integer", attr("x-n", custom(int32(7))), []string{"int"}},
		{"long integer", attr("x-n", custom(int64(7))), []string{"long"}},
		{"other value", attr("x-n", custom(int32(8))), nil},
		{"no TTLV encoding", attr("x-n", custom(7)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, _, read, err := f.locate(Query{Owner: alice, Now: t0, Filters: []kmip.Attribute{tc.a}})
			if err != nil || !slices.Equal(ids, tc.want) || read > 1 && tc.want != nil {
				t.Errorf("Locate = %v (read %d), %v; want %v", ids, read, err, tc.want)
			}
		})
	}
}
