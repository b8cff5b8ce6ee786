package fsm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// enumTypes returns every value of the generated CommandType enum.
func enumTypes() []kmsdpb.CommandType {
	var out []kmsdpb.CommandType
	for n := range kmsdpb.CommandType_name {
		out = append(out, kmsdpb.CommandType(n))
	}
	slices.Sort(out)
	return out
}

// TestEveryCommandTypeRegistered walks the enum so a new command type cannot
// be added to command.proto without an Apply handler.
func TestEveryCommandTypeRegistered(t *testing.T) {
	for _, typ := range enumTypes() {
		t.Run(typ.String(), func(t *testing.T) {
			def, ok := commands[typ]
			if typ == kmsdpb.CommandType_COMMAND_TYPE_UNKNOWN {
				if ok {
					t.Fatal("UNKNOWN must not have a handler")
				}
				return
			}
			if !ok {
				t.Fatalf("%v has no handler in commands", typ)
			}
			if def.newBody == nil || def.apply == nil || def.newBody() == nil {
				t.Fatalf("%v registered with a nil body or apply func", typ)
			}
		})
	}
	for typ := range commands {
		if _, ok := kmsdpb.CommandType_name[int32(typ)]; !ok {
			t.Errorf("handler registered for %d, which is not in the enum", typ)
		}
	}
}

// TestEveryCommandTypeAppliesEmptyBody checks each handler turns an empty
// body into a domain error rather than a panic or a silent success.
func TestEveryCommandTypeAppliesEmptyBody(t *testing.T) {
	for _, typ := range enumTypes() {
		if typ == kmsdpb.CommandType_COMMAND_TYPE_UNKNOWN {
			continue
		}
		t.Run(typ.String(), func(t *testing.T) {
			f := newTestFSM(t)
			body := commands[typ].newBody()
			res := f.apply(mustEncode(t, typ, env(alice, t0), body))
			if res.Err == nil {
				t.Fatal("empty body applied without error")
			}
			if !errors.Is(res.Err, ErrMalformed) && !errors.Is(res.Err, ErrNotFound) {
				t.Errorf("Err = %v, want ErrMalformed or ErrNotFound", res.Err)
			}
			if f.Count() != 0 {
				t.Errorf("Count = %d", f.Count())
			}
		})
	}
}

func TestEncodeSetsEnvelope(t *testing.T) {
	in := &kmsdpb.Command{Version: 7, Type: kmsdpb.CommandType_COMMAND_TYPE_DESTROY, TimeUnixNano: 42, Actor: alice, RequestId: []byte("r")}
	data, err := Encode(kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, in, &kmsdpb.Activate{Id: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var got kmsdpb.Command
	if err := proto.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetVersion() != EnvelopeVersion || got.GetType() != kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE ||
		got.GetTimeUnixNano() != 42 || got.GetActor() != alice || string(got.GetRequestId()) != "r" {
		t.Errorf("envelope = %v", &got)
	}
	var body kmsdpb.Activate
	if err := proto.Unmarshal(got.GetBody(), &body); err != nil || body.GetId() != "k" {
		t.Errorf("body = %v, %v", &body, err)
	}
	if in.GetVersion() != 7 || in.GetType() != kmsdpb.CommandType_COMMAND_TYPE_DESTROY || in.GetBody() != nil {
		t.Errorf("Encode modified its envelope argument: %v", in)
	}
}

func TestApplyPanicsOnBadEntries(t *testing.T) {
	envelope := func(c *kmsdpb.Command) []byte {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	activate := func() []byte {
		b, _ := proto.Marshal(&kmsdpb.Activate{Id: "k"})
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the panic message
	}{
		{"undecodable envelope", []byte{0xff, 0xff, 0xff}, "undecodable envelope"},
		{"truncated envelope", mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, env(alice, t0), &kmsdpb.Activate{Id: "key"})[:5], "undecodable envelope"},
		{"empty entry has version 0", nil, "envelope version 0"},
		{"version 0", envelope(&kmsdpb.Command{Type: kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, Body: activate()}), "envelope version 0"},
		{"version 2", envelope(&kmsdpb.Command{Version: EnvelopeVersion + 1, Type: kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, Body: activate()}), "envelope version 2"},
		{"unknown type", mustEncode(t, kmsdpb.CommandType(99), env(alice, t0), &kmsdpb.Activate{Id: "k"}), "unknown command type"},
		{"UNKNOWN type", mustEncode(t, kmsdpb.CommandType_COMMAND_TYPE_UNKNOWN, env(alice, t0), &kmsdpb.Activate{Id: "k"}), "unknown command type"},
		{"undecodable body", envelope(&kmsdpb.Command{Version: EnvelopeVersion, Type: kmsdpb.CommandType_COMMAND_TYPE_ACTIVATE, Body: []byte{0x0a, 0x05, 'a'}}), "undecodable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFSM(t)
			f.mustApply(createEntry(t, alice, t0, storedObject("k", symKey("k"))))
			before, applied := f.digest(), f.AppliedIndex()

			r := recoverPanic(func() { f.Apply(applied+1, tt.data) })
			if r == nil {
				t.Fatal("Apply did not panic")
			}
			if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
				t.Errorf("panic %v, want it to mention %q", r, tt.want)
			}
			if f.digest() != before || f.AppliedIndex() != applied {
				t.Error("a panicking Apply changed the store or the applied index")
			}
			// The FSM lock must not be left held.
			f.next = applied + 1
			f.mustApply(activateEntry(t, alice, t0, "k"))
		})
	}
}

func TestAppliedIndexOnlyMovesForward(t *testing.T) {
	f := New(Config{})
	f.Apply(10, createEntry(t, alice, t0, storedObject("a", symKey("a"))))
	res := f.Apply(5, createEntry(t, alice, t0, storedObject("b", symKey("b"))))
	if res.Err != nil || res.Index != 5 {
		t.Fatalf("Apply(5) = %+v", res)
	}
	if got := f.AppliedIndex(); got != 10 {
		t.Errorf("AppliedIndex = %d, want 10", got)
	}
}
