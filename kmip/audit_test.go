package kmip_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/audit/audittest"
	kmsdkmip "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// auditLine is a line's fields as a test reads them.
type auditLine struct {
	Seq       uint64   `json:"seq"`
	KV        uint32   `json:"kv"`
	Node      string   `json:"node"`
	Identity  string   `json:"identity"`
	Tenant    string   `json:"tenant"`
	Role      string   `json:"role"`
	Operation string   `json:"operation"`
	Objects   []string `json:"objects"`
	Result    string   `json:"result"`
	Reason    string   `json:"reason"`
	Request   string   `json:"request"`
	Item      *int     `json:"item"`
	Remote    string   `json:"remote"`
}

// audited is a fixture whose service writes its audit lines to a sink,
// keyed by the fixture's barrier.
func audited(t *testing.T, failClosed bool, configure ...func(*kmsdkmip.Config)) (*kmiptest.Fixture, *audittest.Sink) {
	t.Helper()
	sink := &audittest.Sink{}
	f := kmiptest.NewWith(t, func(c *kmsdkmip.Config) {
		for _, fn := range configure {
			fn(c)
		}
	})
	log := audit.New(audit.Config{Node: "node-1", Keys: f.Barrier, Sinks: []audit.Sink{sink}, FailClosed: failClosed, Logger: f.Logs.Logger()})
	f.Service = kmsdkmip.NewService(withAudit(f, log, configure...))
	return f, sink
}

// withAudit rebuilds the fixture's service configuration with an Auditor.
func withAudit(f *kmiptest.Fixture, a kmsdkmip.Auditor, configure ...func(*kmsdkmip.Config)) kmsdkmip.Config {
	cfg := kmsdkmip.Config{Replicator: f.Replicator, Store: f.FSM, Sealer: f.Barrier, Logger: f.Logs.Logger(), Now: f.Clock.Now, Audit: a}
	for _, fn := range configure {
		fn(&cfg)
	}
	return cfg
}

func verifyAudit(t *testing.T, f *kmiptest.Fixture, sink *audittest.Sink) audit.Report {
	t.Helper()
	s := audit.NewStream(f.Barrier, 0)
	if err := s.StartFile("audit.log"); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(sink.Bytes()); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil {
		t.Fatalf("audit log does not verify: %+v", *rep.Problem)
	}
	return rep
}

// TestAuditEveryItem: one line per batch item, with the request's id, the
// item's index, the objects and the result reason's name.
func TestAuditEveryItem(t *testing.T) {
	f, sink := audited(t, false)
	items := exec(t, f, alice, kmip.V1_4,
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.GetRequestPayload{},
		&payloads.GetAttributesRequestPayload{UniqueIdentifier: "no-such-object"},
	)
	id := ok[*payloads.CreateResponsePayload](t, items[0]).UniqueIdentifier
	lines := audittest.Decode[auditLine](t, sink)
	if len(lines) != 3 {
		t.Fatalf("%d lines for 3 items", len(lines))
	}
	want := []struct {
		op, result, reason string
		objects            []string
	}{
		{"Create", "success", "", []string{id}},
		{"Get", "success", "", []string{id}},
		{"GetAttributes", "failure", "ItemNotFound", []string{"no-such-object"}},
	}
	for i, l := range lines {
		w := want[i]
		if l.Operation != w.op || l.Result != w.result || l.Reason != w.reason || !slices.Equal(l.Objects, w.objects) {
			t.Errorf("line %d: %+v, want %+v", i, l, w)
		}
		if l.Item == nil || *l.Item != i || l.Request != lines[0].Request || len(l.Request) != 32 {
			t.Errorf("line %d: item %v request %q", i, l.Item, l.Request)
		}
		if l.Identity != alice || l.Tenant != alice || l.Role != "user" || l.Node != "node-1" || l.KV != 1 {
			t.Errorf("line %d: %+v", i, l)
		}
	}
	exec(t, f, alice, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})
	if l := audittest.Decode[auditLine](t, sink)[3]; l.Request == lines[0].Request {
		t.Error("two request messages share a request id")
	}
	if rep := verifyAudit(t, f, sink); rep.Lines != 4 || !slices.Equal(rep.KeyVersions, []uint32{1}) {
		t.Errorf("report %+v", rep)
	}
}

// TestAuditLocateAndKeyPair: the ids a response returns are recorded.
func TestAuditLocateAndKeyPair(t *testing.T) {
	f, sink := audited(t, false)
	a, b := create(t, f, kmip.V1_4), create(t, f, kmip.V1_4)
	do(t, f, kmip.V1_4, &payloads.LocateRequestPayload{})
	l := audittest.Decode[auditLine](t, sink)[2]
	if l.Operation != "Locate" || len(l.Objects) != 2 || !slices.Contains(l.Objects, a) || !slices.Contains(l.Objects, b) {
		t.Errorf("Locate line: %+v", l)
	}
}

// TestAuditNoSecrets: lines written while a key is registered and read
// back, plain and wrapped, hold none of its bytes.
func TestAuditNoSecrets(t *testing.T) {
	f, sink := audited(t, false)
	secret := seq(32)
	id := register(t, f, kmip.V1_4, rawKey(kmip.CryptographicAlgorithmAES, 256, slices.Clone(secret)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt))
	kek := registerKEK(t, f, slices.Clone(rfcKEK256), nistKW)
	got := ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
	if got.Object == nil {
		t.Fatal("Get returned no object")
	}
	wrapped := getWrapped(t, f, kmip.V1_4, id, wrapSpec(kek, nistKW, 0))
	out := sink.Bytes()
	if n := len(audittest.Decode[auditLine](t, sink)); n != 4 {
		t.Fatalf("%d lines, want 4", n)
	}
	for name, s := range map[string][]byte{"key": secret, "wrapping key": rfcKEK256, "wrapped key": *wrapped.KeyValue.Wrapped} {
		if len(s) == 0 {
			t.Fatalf("%s: nothing to look for", name)
		}
		for _, enc := range [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s))),
			[]byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))} {
			if bytes.Contains(out, enc) {
				t.Fatalf("the audit log holds the %s", name)
			}
		}
	}
	verifyAudit(t, f, sink)
}

// TestAuditFailClosed: when lines cannot be written, a Get answers General
// Failure without its key, the next items do not run, and all is well
// once the log writes again; without fail-closed nothing is refused.
func TestAuditFailClosed(t *testing.T) {
	f, sink := audited(t, true)
	id := create(t, f, kmip.V1_4)
	sink.SetFail(true)
	bi := do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id})
	fails(t, bi, kmip.ResultReasonGeneralFailure)
	if bi.ResultMessage != "audit log unavailable" {
		t.Errorf("message %q", bi.ResultMessage)
	}
	count := f.FSM.Count()
	fails(t, do(t, f, kmip.V1_4, &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)}),
		kmip.ResultReasonGeneralFailure)
	if f.FSM.Count() != count {
		t.Error("a Create ran while the audit log could not be written")
	}
	sink.SetFail(false)
	// The first line written again clears the failure; that item was
	// refused before it could run.
	fails(t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}), kmip.ResultReasonGeneralFailure)
	ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))

	open, openSink := audited(t, false)
	oid := create(t, open, kmip.V1_4)
	openSink.SetFail(true)
	ok[*payloads.GetResponsePayload](t, do(t, open, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: oid}))
	if len(open.Logs.Contains("cannot write the audit log")) != 1 {
		t.Error("the failure was not logged once")
	}
}

// TestAuditRefusedMessages: a message refused as a whole (sealed node,
// over the rate limit) still writes one line per item.
func TestAuditRefusedMessages(t *testing.T) {
	f, sink := audited(t, false, func(c *kmsdkmip.Config) { c.Available = func() error { return kmsdkmip.ErrSealed } })
	exec2 := func() {
		m := kmip.NewRequestMessage(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: "x"}, &payloads.LocateRequestPayload{})
		f.Execute(t, alice, m)
	}
	exec2()
	lines := audittest.Decode[auditLine](t, sink)
	if len(lines) != 2 || lines[0].Operation != "Get" || lines[1].Operation != "Locate" || lines[1].Reason != "GeneralFailure" || lines[0].Result != "failure" {
		t.Fatalf("sealed: %+v", lines)
	}

	r, rsink := audited(t, false, func(c *kmsdkmip.Config) { c.RateLimit, c.RateBurst = 1, 1 })
	exec(t, r, alice, kmip.V1_4, &payloads.QueryRequestPayload{})
	exec(t, r, alice, kmip.V1_4, &payloads.QueryRequestPayload{}, &payloads.QueryRequestPayload{})
	lines = audittest.Decode[auditLine](t, rsink)
	if len(lines) != 3 || lines[0].Result != "success" || lines[2].Reason != "GeneralFailure" || lines[2].Item == nil || *lines[2].Item != 1 {
		t.Fatalf("rate limited: %+v", lines)
	}
}

// TestAuditUndo: the items of an Undo batch and the undo itself are
// recorded, and so is the item that was not run.
func TestAuditUndo(t *testing.T) {
	f, sink := audited(t, false)
	resp, _ := f.Execute(t, alice, undoBatch(
		&payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: aesTemplate(256)},
		&payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"},
		&payloads.QueryRequestPayload{},
	))
	if resp.BatchItem[0].ResultStatus != kmip.ResultStatusOperationUndone {
		t.Fatalf("create not undone: %v", resp.BatchItem[0].ResultStatus)
	}
	lines := audittest.Decode[auditLine](t, sink)
	ops := make([]string, len(lines))
	for i, l := range lines {
		ops[i] = l.Operation + "/" + l.Result
	}
	if want := []string{"Create/success", "Get/failure", "Undo/success", "Query/failure"}; !slices.Equal(ops, want) {
		t.Fatalf("lines %v, want %v", ops, want)
	}
	if len(lines[2].Objects) != 1 || lines[2].Objects[0] != lines[0].Objects[0] || *lines[2].Item != 1 {
		t.Errorf("undo line %+v", lines[2])
	}
	if lines[3].Reason != "OperationCanceledByRequester" {
		t.Errorf("cancelled item reason %q", lines[3].Reason)
	}
}

// TestAuditRemoteAddress: the client's address reaches the line through
// the listener.
func TestAuditRemoteAddress(t *testing.T) {
	f, sink := audited(t, false)
	srv := kmiptest.StartServer(t, f, fastConfig())
	conn := srv.MustDial(t, alice)
	defer conn.Close()
	roundTrip(t, conn, encode(kmip.V1_2, &payloads.QueryRequestPayload{}))
	lines := audittest.Decode[auditLine](t, sink)
	if len(lines) != 1 || lines[0].Remote != conn.LocalAddr().String() {
		t.Fatalf("remote %+v, want %s", lines, conn.LocalAddr())
	}
}

// TestAuditInvalidMessage: a message that cannot be decoded has no batch
// items; it writes one line without an operation, reason Invalid Message.
func TestAuditInvalidMessage(t *testing.T) {
	f, sink := audited(t, false)
	srv := kmiptest.StartServer(t, f, fastConfig())
	conn := srv.MustDial(t, alice)
	defer conn.Close()
	eight := make([]byte, 8)
	resp := roundTrip(t, conn, queryMessage(nil, rawItem(kmip.TagBatchCount, tInteger, 8, eight)))
	fails(t, resp.BatchItem[0], kmip.ResultReasonInvalidMessage)
	lines := audittest.Decode[auditLine](t, sink)
	if len(lines) != 1 || lines[0].Operation != "" || lines[0].Reason != "InvalidMessage" || lines[0].Item != nil ||
		lines[0].Identity != srv.PKI.Identity(alice) || lines[0].Remote != conn.LocalAddr().String() || lines[0].Result != "failure" {
		t.Fatalf("lines %+v", lines)
	}
}
