package kmip_test

import (
	"crypto/tls"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// TestTwoCAsSameCommonName: a server that trusts two client CAs, each of
// which issued a certificate with the same Common Name, keeps the two
// clients apart, and a binding naming one CA's client leaves the other's
// alone.
func TestTwoCAsSameCommonName(t *testing.T) {
	f := kmiptest.New(t)
	other := kmiptest.NewPKI(t, "second client CA")
	pki := kmiptest.NewPKI(t, "first client CA")
	tlsCfg := pki.ServerTLS()
	tlsCfg.ClientCAs.AddCert(other.CA())
	cfg := fastConfig()
	cfg.TLS = tlsCfg
	srv := kmiptest.StartServer(t, f, cfg)
	srv.PKI = pki

	first := srv.MustDial(t, alice)
	secondCfg := other.ClientTLS(alice)
	secondCfg.RootCAs.AddCert(pki.CA()) // the server's certificate is the first CA's
	second, err := srv.Dial(t, secondCfg)
	if err != nil {
		t.Fatal(err)
	}
	createOn := func(conn *tls.Conn) string {
		t.Helper()
		resp := roundTrip(t, conn, encode(kmip.V1_4, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)}))
		return ok[*payloads.CreateResponsePayload](t, resp.BatchItem[0]).UniqueIdentifier
	}
	id1 := createOn(first)
	id2 := createOn(second)
	fails(t, roundTrip(t, second, encode(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id1})).BatchItem[0], kmip.ResultReasonItemNotFound)
	fails(t, roundTrip(t, first, encode(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id2})).BatchItem[0], kmip.ResultReasonItemNotFound)
	o1, _ := f.FSM.Get(id1)
	o2, _ := f.FSM.Get(id2)
	if o1.Owner == o2.Owner || o1.Owner != pki.Identity(alice) || o2.Owner != other.Identity(alice) {
		t.Fatalf("owners %q and %q", o1.Owner, o2.Owner)
	}

	// Bind the first CA's alice, and only it, to a read-only tenant.
	f.SetPolicy(t, &kmsdpb.PolicyEntry{Name: "first-alice", Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{
		Identities: []*kmsdpb.IdentityMatch{{Ca: policy.Fingerprint(pki.CA()), CommonName: alice}}, Tenant: "audit", Role: policy.RoleReadOnly}}})
	fails(t, roundTrip(t, first, encode(kmip.V1_4, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(128)})).BatchItem[0], kmip.ResultReasonPermissionDenied)
	// Its old tenant is not its tenant any more.
	fails(t, roundTrip(t, first, encode(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id1})).BatchItem[0], kmip.ResultReasonItemNotFound)
	ok[*payloads.GetResponsePayload](t, roundTrip(t, second, encode(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id2})).BatchItem[0])
	createOn(second)
}
