package fsm

import (
	"slices"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
)

// Fixture times: object i is created at hour(i); queries run at locateNow.
func hour(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }

var (
	locateNow = hour(6)
	k3Active  = hour(3).Add(30 * time.Minute) // k3's Activation Date
	k3Expiry  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func name(v string) kmip.Attribute {
	return attr(kmip.AttributeNameName, kmip.Name{NameValue: v, NameType: kmip.NameTypeUninterpretedTextString})
}

// locateFixture builds a store; in creation order, oldest first, alice owns
// k1 (activated), k2, priv and pub (one command: in id order), k3 and k4
// (destroyed); bob owns b1.
// Locate skips destroyed objects unless the query filters on State.
func locateFixture(t *testing.T) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	typ := func(ot kmip.ObjectType) kmip.Attribute { return attr(kmip.AttributeNameObjectType, ot) }
	alg := func(a kmip.CryptographicAlgorithm, n int32) []kmip.Attribute {
		return []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, a), attr(kmip.AttributeNameCryptographicLength, n)}
	}
	mask := func(m kmip.CryptographicUsageMask) kmip.Attribute {
		return attr(kmip.AttributeNameCryptographicUsageMask, m)
	}
	group := func(g string) kmip.Attribute { return attr(kmip.AttributeNameObjectGroup, g) }
	with := func(base []kmip.Attribute, more ...kmip.Attribute) []kmip.Attribute { return append(base, more...) }

	f.mustApply(createEntry(t, alice, hour(0), storedObject("k1", with(alg(kmip.CryptographicAlgorithmAES, 128),
		typ(kmip.ObjectTypeSymmetricKey), name("alpha"), group("g1"),
		mask(kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
		attr("x-team", custom("red")), attr("x-count", custom(int32(1)))))))
	f.mustApply(createEntry(t, alice, hour(1), storedObject("k2", with(alg(kmip.CryptographicAlgorithmAES, 256),
		typ(kmip.ObjectTypeSymmetricKey), name("beta"), name("beta-alias"), group("g1"), group("g2"),
		mask(kmip.CryptographicUsageEncrypt),
		attr("x-team", custom("blue")), attr("x-count", custom(int32(3))),
		attr("x-blob", custom([]byte{1, 2, 3})), attr("x-flag", custom(true))))))
	f.mustApply(createEntry(t, alice, hour(2),
		storedObject("pub", with(alg(kmip.CryptographicAlgorithmRSA, 2048),
			typ(kmip.ObjectTypePublicKey), name("pair-pub"), mask(kmip.CryptographicUsageVerify))),
		storedObject("priv", with(alg(kmip.CryptographicAlgorithmRSA, 2048),
			typ(kmip.ObjectTypePrivateKey), name("pair-priv"), mask(kmip.CryptographicUsageSign), group("g2")))))
	f.mustApply(createEntry(t, alice, hour(3), storedObject("k3", []kmip.Attribute{
		typ(kmip.ObjectTypeSecretData),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: "gamma", NameType: kmip.NameTypeUri}),
		attr(kmip.AttributeNameActivationDate, k3Active),
		attr("x-expiry", custom(k3Expiry)),
	})))
	f.mustApply(createEntry(t, bob, hour(4), storedObject("b1", with(alg(kmip.CryptographicAlgorithmAES, 256),
		typ(kmip.ObjectTypeSymmetricKey), name("alpha"), group("g1"), attr("x-team", custom("red"))))))
	f.mustApply(activateEntry(t, alice, hour(5), "k1"))
	f.mustApply(createEntry(t, alice, hour(5), storedObject("k4", symKey("delta"))))
	f.mustApply(destroyEntry(t, alice, hour(5), "k4"))
	return f
}

func TestLocateFilters(t *testing.T) {
	f := locateFixture(t)
	a := attr
	state := func(s kmip.State) kmip.Attribute { return a(kmip.AttributeNameState, s) }
	initial := func(d time.Time) kmip.Attribute { return a(kmip.AttributeNameInitialDate, d) }
	objType := func(ot kmip.ObjectType) kmip.Attribute { return a(kmip.AttributeNameObjectType, ot) }
	mask := func(m kmip.CryptographicUsageMask) kmip.Attribute {
		return a(kmip.AttributeNameCryptographicUsageMask, m)
	}
	tests := []struct {
		name    string
		owner   string
		now     time.Time // zero: locateNow
		filters []kmip.Attribute
		want    []string
	}{
		{"no filter oldest first", alice, time.Time{}, nil, []string{"k1", "k2", "priv", "pub", "k3"}},
		{"name", alice, time.Time{}, []kmip.Attribute{name("alpha")}, []string{"k1"}},
		{"second name instance", alice, time.Time{}, []kmip.Attribute{name("beta-alias")}, []string{"k2"}},
		{"both names required", alice, time.Time{}, []kmip.Attribute{name("beta"), name("beta-alias")}, []string{"k2"}},
		{"names of two objects", alice, time.Time{}, []kmip.Attribute{name("alpha"), name("beta")}, nil},
		{"name type must match", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameName, kmip.Name{NameValue: "gamma", NameType: kmip.NameTypeUninterpretedTextString})}, nil},
		{"name type zero matches any", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameName, kmip.Name{NameValue: "gamma"})}, []string{"k3"}},
		{"object type", alice, time.Time{}, []kmip.Attribute{objType(kmip.ObjectTypeSymmetricKey)}, []string{"k1", "k2"}},
		{"object type private key", alice, time.Time{}, []kmip.Attribute{objType(kmip.ObjectTypePrivateKey)}, []string{"priv"}},
		{"state active is effective", alice, time.Time{}, []kmip.Attribute{state(kmip.StateActive)}, []string{"k1", "k3"}},
		{"state active before activation date", alice, k3Active.Add(-time.Minute), []kmip.Attribute{state(kmip.StateActive)}, []string{"k1"}},
		{"state pre-active", alice, time.Time{}, []kmip.Attribute{state(kmip.StatePreActive)}, []string{"k2", "priv", "pub"}},
		{"state destroyed", alice, time.Time{}, []kmip.Attribute{state(kmip.StateDestroyed)}, []string{"k4"}},
		{"destroyed hidden", alice, time.Time{}, []kmip.Attribute{name("delta")}, nil},
		{"destroyed found by state", alice, time.Time{}, []kmip.Attribute{name("delta"), state(kmip.StateDestroyed)}, []string{"k4"}},
		{"destroyed not found by other state", alice, time.Time{}, []kmip.Attribute{name("delta"), state(kmip.StatePreActive)}, nil},
		{"algorithm", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmRSA)}, []string{"priv", "pub"}},
		{"algorithm and length", alice, time.Time{}, []kmip.Attribute{
			a(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
			a(kmip.AttributeNameCryptographicLength, int32(256))}, []string{"k2"}},
		{"length", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameCryptographicLength, int32(128))}, []string{"k1"}},
		{"object group", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameObjectGroup, "g1")}, []string{"k1", "k2"}},
		{"second object group", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameObjectGroup, "g2")}, []string{"k2", "priv"}},
		{"two object groups", alice, time.Time{}, []kmip.Attribute{a(kmip.AttributeNameObjectGroup, "g1"), a(kmip.AttributeNameObjectGroup, "g2")}, []string{"k2"}},
		{"custom text", alice, time.Time{}, []kmip.Attribute{a("x-team", custom("red"))}, []string{"k1"}},
		{"custom text no match", alice, time.Time{}, []kmip.Attribute{a("x-team", custom("green"))}, nil},
		{"custom integer", alice, time.Time{}, []kmip.Attribute{a("x-count", custom(int32(3)))}, []string{"k2"}},
		{"custom integer type matters", alice, time.Time{}, []kmip.Attribute{a("x-count", custom(int64(3)))}, nil},
		{"custom bytes", alice, time.Time{}, []kmip.Attribute{a("x-blob", custom([]byte{1, 2, 3}))}, []string{"k2"}},
		{"custom boolean", alice, time.Time{}, []kmip.Attribute{a("x-flag", custom(true))}, []string{"k2"}},
		{"absent attribute", alice, time.Time{}, []kmip.Attribute{a("x-missing", custom("red"))}, nil},
		{"usage mask one bit", alice, time.Time{}, []kmip.Attribute{mask(kmip.CryptographicUsageEncrypt)}, []string{"k1", "k2"}},
		{"usage mask two bits", alice, time.Time{}, []kmip.Attribute{mask(kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt)}, []string{"k1"}},
		{"usage mask sign", alice, time.Time{}, []kmip.Attribute{mask(kmip.CryptographicUsageSign)}, []string{"priv"}},
		{"usage mask all don't care", alice, time.Time{}, []kmip.Attribute{mask(0)}, []string{"k1", "k2", "priv", "pub"}},
		{"initial date range inclusive", alice, time.Time{}, []kmip.Attribute{initial(sec(hour(1))), initial(sec(hour(2)))}, []string{"k2", "priv", "pub"}},
		{"initial date range inside", alice, time.Time{}, []kmip.Attribute{initial(hour(0).Add(30 * time.Minute)), initial(hour(1).Add(30 * time.Minute))}, []string{"k2"}},
		{"initial date range reversed", alice, time.Time{}, []kmip.Attribute{initial(hour(2)), initial(hour(1))}, nil},
		{"initial date exact", alice, time.Time{}, []kmip.Attribute{initial(sec(hour(3)))}, []string{"k3"}},
		{"initial date exact other zone", alice, time.Time{}, []kmip.Attribute{initial(sec(hour(3)).In(time.FixedZone("X", -7*3600)))}, []string{"k3"}},
		{"type and state", alice, time.Time{}, []kmip.Attribute{objType(kmip.ObjectTypeSymmetricKey), state(kmip.StatePreActive)}, []string{"k2"}},
		{"other owner", bob, time.Time{}, []kmip.Attribute{name("alpha")}, []string{"b1"}},
		{"other owner all", bob, time.Time{}, nil, []string{"b1"}},
		{"unknown owner", "carol", time.Time{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = locateNow
			}
			ids, total, err := f.Locate(Query{Owner: tt.owner, Now: now, Filters: tt.filters})
			if err != nil {
				t.Fatalf("Locate: %v", err)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
			if total != len(tt.want) {
				t.Errorf("total = %d, want %d", total, len(tt.want))
			}
		})
	}
}

func TestLocatePaging(t *testing.T) {
	f := locateFixture(t)
	all := []string{"k1", "k2", "priv", "pub", "k3"}
	symmetric := []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey)}
	tests := []struct {
		name     string
		filters  []kmip.Attribute
		max, off int
		want     []string
		total    int
	}{
		{"no limit", nil, 0, 0, all, 5},
		{"max items", nil, 2, 0, all[:2], 5},
		{"offset and max items", nil, 2, 2, all[2:4], 5},
		{"offset to last", nil, 0, 4, all[4:], 5},
		{"offset at end", nil, 0, 5, nil, 5},
		{"offset past end", nil, 3, 100, nil, 5},
		{"max items past end", nil, 100, 1, all[1:], 5},
		{"negative values ignored", nil, -1, -1, all, 5},
		{"with filter", symmetric, 1, 1, []string{"k2"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, total, err := f.Locate(Query{Owner: alice, Now: locateNow, Filters: tt.filters, MaxItems: tt.max, Offset: tt.off})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 0 || len(tt.want) != 0 {
				if !slices.Equal(ids, tt.want) {
					t.Errorf("ids = %v, want %v", ids, tt.want)
				}
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
		})
	}
}

// A custom Date-Time attribute must match the same instant whatever the
// time.Location of the filter value. The store holds decoded values, and the
// TTLV decoder returns times in time.Local, while attrEqual only compares
// time.Time by instant at the top level, not inside a ttlv.Value.
func TestLocateCustomDateAttribute(t *testing.T) {
	f := locateFixture(t)
	for _, tc := range []struct {
		name string
		v    time.Time
	}{
		{"utc", k3Expiry},
		{"local", k3Expiry.Local()},
		{"fixed zone", k3Expiry.In(time.FixedZone("X", 3600))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, _, err := f.Locate(Query{Owner: alice, Now: locateNow, Filters: []kmip.Attribute{attr("x-expiry", custom(tc.v))}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, []string{"k3"}) {
				t.Errorf("ids = %v, want [k3]", ids)
			}
		})
	}
}
