package kmip_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

func name(s string) kmip.Attribute {
	return attr(kmip.AttributeNameName, kmip.Name{NameValue: s, NameType: kmip.NameTypeUninterpretedTextString})
}

// locateFixture holds, oldest first: an AES-128 key "k1" in group g1, an
// AES-256 key "k2" in group g2 with x-app=mongo, an active AES-256 key "k3",
// a secret "s1" and a destroyed AES-256 key "gone".
type locateFixture struct {
	f                    *kmiptest.Fixture
	k1, k2, k3, s1, gone string
	byAge                []string // oldest first, live objects only
}

func newLocateFixture(t *testing.T) *locateFixture {
	f := kmiptest.New(t)
	lf := &locateFixture{f: f}
	lf.k1 = createAs(t, f, alice, kmip.V1_4, aesTemplate(128, name("k1"), attr(kmip.AttributeNameObjectGroup, "g1")))
	lf.k2 = createAs(t, f, alice, kmip.V1_4, aesTemplate(256, name("k2"), attr(kmip.AttributeNameObjectGroup, "g2"), attr("x-app", "mongo")))
	lf.k3 = createAs(t, f, alice, kmip.V1_4, aesTemplate(256, name("k3")))
	ok[*payloads.ActivateResponsePayload](t, do(t, f, kmip.V1_4, &payloads.ActivateRequestPayload{UniqueIdentifier: lf.k3}))
	lf.s1 = register(t, f, kmip.V1_4, secretData(seq(32)), name("s1"))
	lf.gone = createAs(t, f, alice, kmip.V1_4, aesTemplate(256, name("gone")))
	ok[*payloads.DestroyResponsePayload](t, do(t, f, kmip.V1_4, &payloads.DestroyRequestPayload{UniqueIdentifier: lf.gone}))
	createAs(t, f, bob, kmip.V1_4, aesTemplate(256, name("k1")))
	lf.byAge = []string{lf.k1, lf.k2, lf.k3, lf.s1}
	return lf
}

func (lf *locateFixture) locate(t *testing.T, v kmip.ProtocolVersion, req *payloads.LocateRequestPayload) *payloads.LocateResponsePayload {
	t.Helper()
	return ok[*payloads.LocateResponsePayload](t, do(t, lf.f, v, req))
}

func TestLocateFilters(t *testing.T) {
	lf := newLocateFixture(t)
	tests := []struct {
		name    string
		filters []kmip.Attribute
		want    []string
	}{
		{"everything live", nil, lf.byAge},
		{"name", []kmip.Attribute{name("k2")}, []string{lf.k2}},
		{"name of other tenant's key", []kmip.Attribute{name("k1")}, []string{lf.k1}},
		{"unknown name", []kmip.Attribute{name("nope")}, nil},
		{"object type", []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSecretData)}, []string{lf.s1}},
		{"state active", []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateActive)}, []string{lf.k3}},
		{"state pre-active", []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StatePreActive)}, []string{lf.k1, lf.k2, lf.s1}},
		{"state destroyed finds destroyed", []kmip.Attribute{attr(kmip.AttributeNameState, kmip.StateDestroyed)}, []string{lf.gone}},
		{"algorithm", []kmip.Attribute{attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES)}, []string{lf.k1, lf.k2, lf.k3}},
		{"length", []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(256))}, []string{lf.k2, lf.k3}},
		{"algorithm and length", []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
			attr(kmip.AttributeNameCryptographicLength, int32(128)),
		}, []string{lf.k1}},
		{"group", []kmip.Attribute{attr(kmip.AttributeNameObjectGroup, "g2")}, []string{lf.k2}},
		{"custom attribute", []kmip.Attribute{attr("x-app", "mongo")}, []string{lf.k2}},
		{"custom attribute other value", []kmip.Attribute{attr("x-app", "vsphere")}, nil},
		{"usage mask subset", []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt)}, []string{lf.k1, lf.k2, lf.k3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lf.locate(t, kmip.V1_4, &payloads.LocateRequestPayload{Attribute: tt.filters})
			if !slices.Equal(got.UniqueIdentifier, tt.want) {
				t.Errorf("found %v, want %v", got.UniqueIdentifier, tt.want)
			}
			if got.LocatedItems == nil || int(*got.LocatedItems) != len(tt.want) {
				t.Errorf("Located Items = %v, want %d", got.LocatedItems, len(tt.want))
			}
		})
	}
}

func TestLocatePaging(t *testing.T) {
	lf := newLocateFixture(t)
	tests := []struct {
		name      string
		v         kmip.ProtocolVersion
		max, skip int32
		want      []string
	}{
		{"max 2", kmip.V1_4, 2, 0, lf.byAge[:2]},
		{"max beyond", kmip.V1_4, 10, 0, lf.byAge},
		{"offset 1", kmip.V1_3, 0, 1, lf.byAge[1:]},
		{"offset 1 max 2", kmip.V1_4, 2, 1, lf.byAge[1:3]},
		{"offset past end", kmip.V1_4, 0, 9, nil},
		{"max in 1.0", kmip.V1_0, 3, 0, lf.byAge[:3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lf.locate(t, tt.v, &payloads.LocateRequestPayload{MaximumItems: tt.max, OffsetItems: tt.skip})
			if !slices.Equal(got.UniqueIdentifier, tt.want) {
				t.Errorf("found %v, want %v", got.UniqueIdentifier, tt.want)
			}
			if compareVersions(tt.v, kmip.V1_3) >= 0 {
				if got.LocatedItems == nil || int(*got.LocatedItems) != len(lf.byAge) {
					t.Errorf("Located Items = %v, want %d (all matches)", got.LocatedItems, len(lf.byAge))
				}
			} else if got.LocatedItems != nil {
				t.Errorf("KMIP %s response has Located Items", tt.v)
			}
		})
	}
	t.Run("negative", func(t *testing.T) {
		fails(t, do(t, lf.f, kmip.V1_4, &payloads.LocateRequestPayload{MaximumItems: -1}), kmip.ResultReasonInvalidField)
	})
}

// TestLocateMaxItemsCap: with no Maximum Items, or one above the server's
// bound, Locate returns at most Config.LocateMaxItems identifiers; Located
// Items still counts every match, and Offset Items reaches the rest.
func TestLocateMaxItemsCap(t *testing.T) {
	const limit, stored = 3, 5
	f := kmiptest.NewWith(t, func(c *kmsdkmip.Config) { c.LocateMaxItems = limit })
	var all []string
	for range stored {
		all = append(all, create(t, f, kmip.V1_4))
	}
	tests := []struct {
		name      string
		v         kmip.ProtocolVersion
		max, skip int32
		want      []string
	}{
		{"no maximum", kmip.V1_4, 0, 0, all[:limit]},
		{"no maximum in 1.0", kmip.V1_0, 0, 0, all[:limit]},
		{"maximum above the bound", kmip.V1_4, 1 << 30, 0, all[:limit]},
		{"maximum below the bound", kmip.V1_4, 2, 0, all[:2]},
		{"the rest by offset", kmip.V1_4, 0, limit, all[limit:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ok[*payloads.LocateResponsePayload](t, do(t, f, tt.v, &payloads.LocateRequestPayload{MaximumItems: tt.max, OffsetItems: tt.skip}))
			if !slices.Equal(got.UniqueIdentifier, tt.want) {
				t.Errorf("found %v, want %v", got.UniqueIdentifier, tt.want)
			}
			if compareVersions(tt.v, kmip.V1_3) >= 0 && (got.LocatedItems == nil || *got.LocatedItems != stored) {
				t.Errorf("Located Items = %v, want %d", got.LocatedItems, stored)
			}
		})
	}
}

// TestLocateOffsetBefore13: Offset Items is new in KMIP 1.3; a server must
// not apply a field the request's version does not define. The kmip-go
// encoder drops it from older requests but its decoder keeps it, so the
// message is encoded as 1.4 and relabelled.
func TestLocateOffsetBefore13(t *testing.T) {
	lf := newLocateFixture(t)
	for _, v := range []kmip.ProtocolVersion{kmip.V1_0, kmip.V1_1, kmip.V1_2} {
		t.Run(vname(v), func(t *testing.T) {
			b := relabel(t, ttlv.MarshalTTLV(kmip.NewRequestMessage(kmip.V1_4, &payloads.LocateRequestPayload{OffsetItems: 2})), v)
			req := &kmip.RequestMessage{}
			if err := ttlv.UnmarshalTTLV(b, req); err != nil {
				t.Fatal(err)
			}
			if req.Header.ProtocolVersion != v || req.BatchItem[0].RequestPayload.(*payloads.LocateRequestPayload).OffsetItems != 2 {
				t.Fatalf("relabelled request decodes as %+v", req.Header)
			}
			resp, _ := lf.f.ExecuteDirect(t, alice, req)
			bi := resp.BatchItem[0]
			if bi.ResultStatus != kmip.ResultStatusSuccess {
				fails(t, bi, kmip.ResultReasonInvalidField, kmip.ResultReasonInvalidMessage)
				return
			}
			if got := bi.ResponsePayload.(*payloads.LocateResponsePayload).UniqueIdentifier; !slices.Equal(got, lf.byAge) {
				t.Errorf("KMIP %s applied Offset Items: found %d of %d objects", v, len(got), len(lf.byAge))
			}
		})
	}
}

// relabel rewrites the Protocol Version of an encoded request.
func relabel(t *testing.T, msg []byte, v kmip.ProtocolVersion) []byte {
	t.Helper()
	out := bytes.Clone(msg)
	for _, f := range []struct {
		tag byte
		val int32
	}{{0x6A, v.ProtocolVersionMajor}, {0x6B, v.ProtocolVersionMinor}} {
		hdr := []byte{0x42, 0x00, f.tag, 0x02, 0, 0, 0, 4}
		i := bytes.Index(out, hdr)
		if i < 0 {
			t.Fatal("no protocol version in message")
		}
		binary.BigEndian.PutUint32(out[i+8:], uint32(f.val))
	}
	return out
}

func TestLocateStorageStatus(t *testing.T) {
	lf := newLocateFixture(t)
	for _, tt := range []struct {
		name string
		mask kmip.StorageStatusMask
		want []string
	}{
		{"online", kmip.StorageStatusOnlineStorage, lf.byAge},
		{"online and archive", kmip.StorageStatusOnlineStorage | kmip.StorageStatusArchivalStorage, lf.byAge},
		{"archive only", kmip.StorageStatusArchivalStorage, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := lf.locate(t, kmip.V1_4, &payloads.LocateRequestPayload{StorageStatusMask: tt.mask})
			if !slices.Equal(got.UniqueIdentifier, tt.want) {
				t.Errorf("found %v, want %v", got.UniqueIdentifier, tt.want)
			}
			if got.LocatedItems == nil || int(*got.LocatedItems) != len(tt.want) {
				t.Errorf("Located Items = %v, want %d", got.LocatedItems, len(tt.want))
			}
		})
	}
}

// TestLocateThenGet is the ID Placeholder chain PyKMIP and ONTAP rely on:
// Locate sets the placeholder to the first (oldest) match.
func TestLocateThenGet(t *testing.T) {
	lf := newLocateFixture(t)
	items := exec(t, lf.f, alice, kmip.V1_2,
		&payloads.LocateRequestPayload{Attribute: []kmip.Attribute{attr(kmip.AttributeNameCryptographicLength, int32(256))}},
		&payloads.GetAttributesRequestPayload{AttributeName: []kmip.AttributeName{kmip.AttributeNameName}},
	)
	ok[*payloads.LocateResponsePayload](t, items[0])
	if got := ok[*payloads.GetAttributesResponsePayload](t, items[1]).UniqueIdentifier; got != lf.k2 {
		t.Errorf("placeholder is %q, want oldest match %q", got, lf.k2)
	}
}
