package fsm

import (
	"bytes"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Actors used across the tests.
const (
	alice = "alice"
	bob   = "bob"
)

// t0 is the base command time. It carries nanoseconds on purpose: every date
// the FSM writes must be truncated to whole seconds.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 750_000_000, time.UTC)

// sec truncates to what a KMIP Date-Time can hold.
func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// attr builds one KMIP attribute.
func attr(name kmip.AttributeName, v any) kmip.Attribute {
	return kmip.Attribute{AttributeName: name, AttributeValue: v}
}

// custom wraps v the way kmip-go represents a custom (x-) attribute value.
func custom(v any) ttlv.Value { return ttlv.Value{Tag: kmip.TagAttributeValue, Value: v} }

func symKey(name string, extra ...kmip.Attribute) []kmip.Attribute {
	return append([]kmip.Attribute{
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: name, NameType: kmip.NameTypeUninterpretedTextString}),
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, int32(256)),
	}, extra...)
}

// storedObject builds the proto form of an object for a CreateObjects body.
func storedObject(id string, attrs []kmip.Attribute) *kmsdpb.StoredObject {
	p := &kmsdpb.StoredObject{Id: id, SealedMaterial: []byte("sealed:" + id)}
	for _, a := range attrs {
		p.Attributes = append(p.Attributes, EncodeAttribute(a))
	}
	return p
}

// requestSeq makes request ids unique: each call of env is a new request, so
// a request id check in Apply must never merge two test commands.
var requestSeq atomic.Uint64

// env is the envelope of a new request sent by actor at time at.
func env(actor string, at time.Time) *kmsdpb.Command {
	return &kmsdpb.Command{
		TimeUnixNano: at.UnixNano(),
		Actor:        actor,
		RequestId:    fmt.Appendf(nil, "req-%d", requestSeq.Add(1)),
	}
}

func mustEncode(t testing.TB, typ kmsdpb.CommandType, e *kmsdpb.Command, body proto.Message) []byte {
	t.Helper()
	b, err := Encode(typ, e, body)
	if err != nil {
		t.Fatalf("Encode(%v): %v", typ, err)
	}
	return b
}

func createEntry(t testing.TB, actor string, at time.Time, objs ...*kmsdpb.StoredObject) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, env(actor, at), &kmsdpb.CreateObjects{Objects: objs})
}

func activateEntry(t testing.TB, actor string, at time.Time, id string) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, env(actor, at), &kmsdpb.Activate{Id: id})
}

func revokeEntry(t testing.TB, actor string, at time.Time, body *kmsdpb.Revoke) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_REVOKE, env(actor, at), body)
}

func destroyEntry(t testing.TB, actor string, at time.Time, id string) []byte {
	return mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_DESTROY, env(actor, at), &kmsdpb.Destroy{Id: id})
}

// testFSM wraps an FSM with a log index counter so tests read like a log.
type testFSM struct {
	t *testing.T
	*FSM
	next uint64
}

func newTestFSM(t *testing.T) *testFSM {
	return &testFSM{t: t, FSM: New(Config{}), next: 1}
}

// apply applies data at the next log index and returns the result.
func (f *testFSM) apply(data []byte) *Result {
	f.t.Helper()
	idx := f.next
	f.next++
	res := f.Apply(idx, data)
	if res == nil {
		f.t.Fatalf("Apply(%d) returned nil", idx)
	}
	if res.Index != idx {
		f.t.Fatalf("Result.Index = %d, want %d", res.Index, idx)
	}
	return res
}

// mustApply applies data and fails the test on a domain error.
func (f *testFSM) mustApply(data []byte) *Result {
	f.t.Helper()
	res := f.apply(data)
	if res.Err != nil {
		f.t.Fatalf("Apply(%d): unexpected error %v", res.Index, res.Err)
	}
	return res
}

// locateIDs returns the ids of owner's objects that match filters now.
func (f *testFSM) locateIDs(owner string, filters ...kmip.Attribute) []string {
	f.t.Helper()
	ids, _, err := f.Locate(Query{Owner: owner, Now: locateNow, Filters: filters})
	if err != nil {
		f.t.Fatalf("Locate: %v", err)
	}
	return ids
}

func (f *testFSM) get(id string) *Object {
	f.t.Helper()
	o, err := f.Get(id)
	if err != nil {
		f.t.Fatalf("Get(%q): %v", id, err)
	}
	return o
}

// stored returns the row the store holds for id: a command that changes
// nothing leaves the very same row in place.
func (f *testFSM) stored(id string) *row {
	f.t.Helper()
	raw, err := f.readTxn().First(tableObjects, indexID, id)
	if err != nil || raw == nil {
		f.t.Fatalf("no stored object %q (%v)", id, err)
	}
	return raw.(*row)
}

func (f *testFSM) digest() [32]byte {
	f.t.Helper()
	d, err := f.Digest()
	if err != nil {
		f.t.Fatalf("Digest: %v", err)
	}
	return d
}

func (f *testFSM) snapshotBytes() []byte {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.Snapshot().Persist(&buf); err != nil {
		f.t.Fatalf("Persist: %v", err)
	}
	return buf.Bytes()
}

// recoverPanic runs fn and returns the value it panicked with, or nil.
func recoverPanic(fn func()) (r any) {
	defer func() { r = recover() }()
	fn()
	return nil
}

// sameObject reports whether two objects are identical in their stored form.
func sameObject(a, b *Object) bool { return proto.Equal(a.ToProto(), b.ToProto()) }

// valuesEqual compares attribute values, treating times (also inside a
// ttlv.Value) as instants rather than by location.
func valuesEqual(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	if va, ok := a.(ttlv.Value); ok {
		vb, ok := b.(ttlv.Value)
		return ok && va.Tag == vb.Tag && valuesEqual(va.Value, vb.Value)
	}
	return reflect.DeepEqual(a, b)
}

// wantAttr checks that the object's first instance of name equals want.
func wantAttr(t *testing.T, o *Object, name kmip.AttributeName, want any) {
	t.Helper()
	got, ok := o.Attr(name)
	if !ok {
		t.Errorf("%s: attribute %q missing", o.ID, name)
		return
	}
	if !valuesEqual(got, want) {
		t.Errorf("%s: %q = %#v, want %#v", o.ID, name, got, want)
	}
}

// wantNoAttr checks that the object has no instance of name.
func wantNoAttr(t *testing.T, o *Object, name kmip.AttributeName) {
	t.Helper()
	if v, ok := o.Attr(name); ok {
		t.Errorf("%s: unexpected attribute %q = %#v", o.ID, name, v)
	}
}

// wantCount checks how many instances of name the object has.
func wantCount(t *testing.T, o *Object, name kmip.AttributeName, n int) {
	t.Helper()
	if got := len(o.AttrAll(name)); got != n {
		t.Errorf("%s: %d instances of %q, want %d", o.ID, got, name, n)
	}
}
