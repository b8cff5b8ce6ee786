package kmip_test

import (
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

func bind(name, tenant, role string, cns ...string) *kmsdpb.PolicyEntry {
	b := &kmsdpb.PolicyBinding{Tenant: tenant, Role: role}
	for _, cn := range cns {
		b.Identities = append(b.Identities, &kmsdpb.IdentityMatch{Ca: "*", CommonName: cn})
	}
	return &kmsdpb.PolicyEntry{Name: name, Entry: &kmsdpb.PolicyEntry_Binding{Binding: b}}
}

// teamFixture puts alice (who the helpers act as) and one identity per
// role into the tenant "team".
func teamFixture(t *testing.T) *kmiptest.Fixture {
	f := kmiptest.New(t)
	f.SetPolicy(t,
		bind("admins", "team", policy.RoleAdmin, alice, "adm"),
		bind("users", "team", policy.RoleUser, "usr*"),
		bind("readers", "team", policy.RoleReadOnly, "reader"),
		bind("wrappers", "team", policy.RoleWrapOnly, "wrapper"),
		bind("nobody", "team", policy.RoleNone, "nobody"),
		bind("symmetric", "team", "symmetric-only", "sym"),
		&kmsdpb.PolicyEntry{Name: "symmetric-only", Entry: &kmsdpb.PolicyEntry_Role{Role: &kmsdpb.PolicyRole{
			Operations: []string{"Create", "Register", "Get", "Locate"}, ObjectTypes: []string{"SymmetricKey"}}}},
	)
	return f
}

func as(t *testing.T, f *kmiptest.Fixture, who string, pl kmip.OperationPayload) kmip.ResponseBatchItem {
	t.Helper()
	return exec(t, f, who, kmip.V1_4, pl)[0]
}

func createPayload() *payloads.CreateRequestPayload {
	return &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)}
}

func TestRoleUserDestroysOnlyItsOwn(t *testing.T) {
	f := teamFixture(t)
	mine := ok[*payloads.CreateResponsePayload](t, as(t, f, "usr1", createPayload())).UniqueIdentifier
	theirs := ok[*payloads.CreateResponsePayload](t, as(t, f, "usr2", createPayload())).UniqueIdentifier
	// One tenant: each user sees the other's keys.
	ok[*payloads.GetResponsePayload](t, as(t, f, "usr1", &payloads.GetRequestPayload{UniqueIdentifier: theirs}))
	fails(t, as(t, f, "usr1", &payloads.DestroyRequestPayload{UniqueIdentifier: theirs}), kmip.ResultReasonPermissionDenied)
	ok[*payloads.DestroyResponsePayload](t, as(t, f, "usr1", &payloads.DestroyRequestPayload{UniqueIdentifier: mine}))
	// An admin of the tenant destroys anything in it.
	ok[*payloads.DestroyResponsePayload](t, as(t, f, "adm", &payloads.DestroyRequestPayload{UniqueIdentifier: theirs}))
	// Another tenant sees nothing of it.
	fails(t, as(t, f, bob, &payloads.GetRequestPayload{UniqueIdentifier: mine}), kmip.ResultReasonItemNotFound)
}

func TestRoleReadOnly(t *testing.T) {
	f := teamFixture(t)
	id := create(t, f, kmip.V1_4)
	for _, pl := range []kmip.OperationPayload{
		&payloads.GetRequestPayload{UniqueIdentifier: id},
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: id},
		&payloads.GetAttributeListRequestPayload{UniqueIdentifier: id},
		&payloads.LocateRequestPayload{},
		&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}},
		&payloads.DiscoverVersionsRequestPayload{},
	} {
		if bi := as(t, f, "reader", pl); bi.ResultStatus != kmip.ResultStatusSuccess {
			t.Errorf("read-only %s: %s %q", ttlv.EnumStr(pl.Operation()), ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
		}
	}
	for _, pl := range writes(id) {
		fails(t, as(t, f, "reader", pl), kmip.ResultReasonPermissionDenied)
	}
}

// writes are requests that change the object id or the store.
func writes(id string) []kmip.OperationPayload {
	return []kmip.OperationPayload{
		createPayload(),
		&payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSecretData, Object: secretData(seq(16))},
		&payloads.ActivateRequestPayload{UniqueIdentifier: id},
		&payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation}},
		&payloads.DestroyRequestPayload{UniqueIdentifier: id},
		&payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "x")},
		&payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: attr(kmip.AttributeNameContactInformation, "y")},
		&payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: kmip.AttributeNameContactInformation},
		&payloads.RekeyRequestPayload{UniqueIdentifier: id},
		&payloads.ArchiveRequestPayload{UniqueIdentifier: id},
	}
}

func TestRoleWrapOnly(t *testing.T) {
	f := teamFixture(t)
	id := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 128, rfcDEK), activeSince())
	kek := registerKEK(t, f, rfcKEK, nistKW)
	fails(t, as(t, f, "wrapper", &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonPermissionDenied)
	fails(t, as(t, f, "wrapper", &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrapType: kmip.NotWrapped}), kmip.ResultReasonPermissionDenied)
	got := ok[*payloads.GetResponsePayload](t, as(t, f, "wrapper", &payloads.GetRequestPayload{UniqueIdentifier: id, KeyWrappingSpecification: wrapSpec(kek, nil, 0)}))
	kb := blockOf(t, got.Object)
	if kb.KeyWrappingData == nil || kb.KeyValue.Wrapped == nil {
		t.Fatalf("wrap-only got the key unwrapped: %+v", kb)
	}
	ok[*payloads.LocateResponsePayload](t, as(t, f, "wrapper", &payloads.LocateRequestPayload{}))
	for _, pl := range writes(id) {
		fails(t, as(t, f, "wrapper", pl), kmip.ResultReasonPermissionDenied)
	}
}

func TestRoleNone(t *testing.T) {
	f := teamFixture(t)
	id := create(t, f, kmip.V1_4)
	for _, pl := range append(writes(id), &payloads.GetRequestPayload{UniqueIdentifier: id}, &payloads.DiscoverVersionsRequestPayload{},
		&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionOperations}}) {
		fails(t, as(t, f, "nobody", pl), kmip.ResultReasonPermissionDenied)
	}
}

func TestCustomRoleObjectTypes(t *testing.T) {
	f := teamFixture(t)
	secret := register(t, f, kmip.V1_4, secretData(seq(16)))
	ok[*payloads.CreateResponsePayload](t, as(t, f, "sym", createPayload()))
	key := create(t, f, kmip.V1_4)
	ok[*payloads.GetResponsePayload](t, as(t, f, "sym", &payloads.GetRequestPayload{UniqueIdentifier: key}))
	fails(t, as(t, f, "sym", &payloads.RegisterRequestPayload{ObjectType: kmip.ObjectTypeSecretData, Object: secretData(seq(16))}), kmip.ResultReasonPermissionDenied)
	fails(t, as(t, f, "sym", &payloads.GetRequestPayload{UniqueIdentifier: secret}), kmip.ResultReasonPermissionDenied)
	fails(t, as(t, f, "sym", &payloads.DestroyRequestPayload{UniqueIdentifier: key}), kmip.ResultReasonPermissionDenied)
}

// TestDefaultEntryNone: with a default entry of role none, an identity no
// binding names can do nothing, while bound ones work as before.
func TestDefaultEntryNone(t *testing.T) {
	f := teamFixture(t)
	f.SetPolicy(t, &kmsdpb.PolicyEntry{Name: policy.DefaultEntry, Entry: &kmsdpb.PolicyEntry_Binding{Binding: &kmsdpb.PolicyBinding{Role: policy.RoleNone}}})
	fails(t, as(t, f, "stranger", createPayload()), kmip.ResultReasonPermissionDenied)
	fails(t, as(t, f, "stranger", &payloads.DiscoverVersionsRequestPayload{}), kmip.ResultReasonPermissionDenied)
	ok[*payloads.CreateResponsePayload](t, as(t, f, "usr1", createPayload()))
}

// TestPolicyChangeTakesEffect: a new binding applies to the very next
// request of an identity.
func TestPolicyChangeTakesEffect(t *testing.T) {
	f := teamFixture(t)
	id := create(t, f, kmip.V1_4)
	fails(t, as(t, f, "late", &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonItemNotFound)
	f.SetPolicy(t, bind("late", "team", policy.RoleReadOnly, "late"))
	ok[*payloads.GetResponsePayload](t, as(t, f, "late", &payloads.GetRequestPayload{UniqueIdentifier: id}))
	fails(t, as(t, f, "late", &payloads.DestroyRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonPermissionDenied)
}

// withCredential runs one operation as who with a Username and Password
// credential in the request header.
func withCredential(t *testing.T, f *kmiptest.Fixture, who string, cred kmip.Credential, pl kmip.OperationPayload) kmip.ResponseBatchItem {
	t.Helper()
	req := kmip.NewRequestMessage(kmip.V1_2, pl)
	req.Header.Authentication = &kmip.Authentication{Credential: cred}
	resp, _ := f.Execute(t, who, req)
	return resp.BatchItem[0]
}

func userPassword(user, password string) kmip.Credential {
	return kmip.Credential{CredentialType: kmip.CredentialTypeUsernameAndPassword,
		CredentialValue: kmip.CredentialValue{UserPassword: &kmip.CredentialValueUserPassword{Username: user, Password: password}}}
}

func device(id, password string) kmip.Credential {
	return kmip.Credential{CredentialType: kmip.CredentialTypeDevice,
		CredentialValue: kmip.CredentialValue{Device: &kmip.CredentialValueDevice{DeviceIdentifier: id, Password: password, DeviceSerialNumber: "sn1"}}}
}

// TestCredentialBinding: a binding that requires a KMIP Credential applies
// to requests of its certificate that carry a credential it names with the
// right password; any other credential is refused in every item, and
// without one the certificate gets what it would get anyway.
func TestCredentialBinding(t *testing.T) {
	f := kmiptest.New(t)
	fred, err := policy.HashPassword("password1")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := policy.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	b := bind("apps", "apps", policy.RoleAdmin, "app")
	b.GetBinding().Credentials = []*kmsdpb.PolicyCredential{{Username: "Fred", PasswordArgon2Id: fred}, {DeviceIdentifier: "devID2233", PasswordArgon2Id: dev}}
	f.SetPolicy(t, b)

	id := ok[*payloads.CreateResponsePayload](t, withCredential(t, f, "app", userPassword("Fred", "password1"), createPayload())).UniqueIdentifier
	if o, _ := f.FSM.Get(id); o.Owner != "apps" {
		t.Fatalf("created in tenant %q", o.Owner)
	}
	ok[*payloads.GetResponsePayload](t, withCredential(t, f, "app", device("devID2233", "secret"), &payloads.GetRequestPayload{UniqueIdentifier: id}))
	for _, cred := range []kmip.Credential{userPassword("Barney", "secret2"), userPassword("Fred", "password2"), device("devID4444", "passwd")} {
		fails(t, withCredential(t, f, "app", cred, &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonPermissionDenied)
	}
	// Without a credential the certificate is a tenant of its own.
	fails(t, as(t, f, "app", &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonItemNotFound)
	// A credential from a certificate no credential binding names is not
	// looked at.
	ok[*payloads.CreateResponsePayload](t, withCredential(t, f, "other", userPassword("Fred", "password1"), createPayload()))
	for _, secret := range []string{"password1", "secret2", "passwd"} {
		if lines := f.Logs.Contains(secret); len(lines) > 0 {
			t.Errorf("a password reached the log: %q", lines)
		}
	}
	if len(f.Logs.Contains("credential not accepted")) != 3 {
		t.Error("refused credentials are not logged")
	}
}

// TestOperationPolicyName: "default" is the one operation policy; it is what
// an object that names none has, and naming another is refused.
func TestOperationPolicyName(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_1)
	got := ok[*payloads.GetAttributesResponsePayload](t, exec(t, f, alice, kmip.V1_1,
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: []kmip.AttributeName{kmip.AttributeNameOperationPolicyName}})[0])
	if len(got.Attribute) != 1 || got.Attribute[0].AttributeValue != "default" {
		t.Errorf("Operation Policy Name of a new object: %+v", got.Attribute)
	}
	all := ok[*payloads.GetAttributesResponsePayload](t, exec(t, f, alice, kmip.V1_1, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id})[0])
	for _, a := range all.Attribute {
		if a.AttributeName == kmip.AttributeNameOperationPolicyName {
			t.Error("Operation Policy Name listed for an object that does not set it")
		}
	}
	ok[*payloads.CreateResponsePayload](t, exec(t, f, alice, kmip.V1_1, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: aesTemplate(128, attr(kmip.AttributeNameOperationPolicyName, "default"))})[0])
	fails(t, exec(t, f, alice, kmip.V1_1, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: aesTemplate(128, attr(kmip.AttributeNameOperationPolicyName, "public"))})[0], kmip.ResultReasonInvalidField)
	fails(t, exec(t, f, alice, kmip.V1_1, &payloads.AddAttributeRequestPayload{UniqueIdentifier: id,
		Attribute: attr(kmip.AttributeNameOperationPolicyName, "public")})[0], kmip.ResultReasonInvalidField)
}
