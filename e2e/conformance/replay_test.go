package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ovh/kmip-go/ttlv"
)

// replayServer answers the n-th request of a vector with the n-th recorded
// response, filling variables with fresh values and $NOW with the time. It
// checks that each request is the recorded one with the values it handed
// out substituted.
type replayServer struct {
	steps []Step
	vals  map[string]any
	last  *Session // leaves of the responses sent, for Substitute's fallback
	errc  chan error
}

func (s *replayServer) serve(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	for i, st := range s.steps {
		raw, err := readMessage(conn)
		if err != nil {
			s.errc <- fmt.Errorf("step %d: read: %w", i, err)
			return
		}
		got, err := Decode(raw)
		if err != nil {
			s.errc <- fmt.Errorf("step %d: %w", i, err)
			return
		}
		if want := s.fill(st.Request, true); !sameIgnoringNow(want, got) {
			s.errc <- fmt.Errorf("step %d: request differs from the recording:\n%s\nwant:\n%s", i, ttlv.MarshalText(got, true), ttlv.MarshalText(want, true))
			return
		}
		resp := s.fill(st.Response, false)
		s.last.noteLeaves(resp)
		if _, err := conn.Write(ttlv.MarshalTTLV(resp)); err != nil {
			s.errc <- fmt.Errorf("step %d: write: %w", i, err)
			return
		}
	}
	s.errc <- nil
}

func readMessage(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[4])<<24 | int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return append(hdr, body...), err
}

// fill replaces variables by the values handed out so far (new ones for
// variables seen for the first time) and Now by the current time.
func (s *replayServer) fill(v ttlv.Value, request bool) ttlv.Value {
	switch x := v.Value.(type) {
	case Var:
		val, ok := s.vals[x.Name]
		if !ok && request {
			val, ok = s.last.lastByTag[v.Tag]
		}
		if !ok {
			val = randomValue(x.Type)
			s.vals[x.Name] = val
		}
		return ttlv.Value{Tag: v.Tag, Value: val}
	case Now:
		return ttlv.Value{Tag: v.Tag, Value: x.T.Truncate(time.Second)}
	case ttlv.Struct:
		out := make(ttlv.Struct, len(x))
		for i, f := range x {
			out[i] = s.fill(f, request)
		}
		return ttlv.Value{Tag: v.Tag, Value: out}
	}
	return v
}

func randomValue(typ ttlv.Type) any {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	switch typ {
	case ttlv.TypeTextString:
		return "id-" + hex.EncodeToString(b[:8])
	case ttlv.TypeByteString:
		return b
	case ttlv.TypeInteger:
		return int32(b[0])
	}
	panic(fmt.Sprintf("no random %s", typ))
}

func sameIgnoringNow(want, got ttlv.Value) bool {
	if want.Tag != got.Tag || typeOf(want.Value) != typeOf(got.Value) {
		return false
	}
	ws, ok := want.Value.(ttlv.Struct)
	if !ok {
		if _, isTime := want.Value.(time.Time); isTime {
			return true // $NOW in the runner's request vs the server's clock
		}
		return equalLeaf(want.Value, got.Value)
	}
	gs := fields(got)
	if len(ws) != len(gs) {
		return false
	}
	for i := range ws {
		if !sameIgnoringNow(ws[i], gs[i]) {
			return false
		}
	}
	return true
}

// TestReplayRecordings runs every vector against a server that plays back
// the recording itself. Every vector must pass: it exercises parsing,
// substitution, binary encoding and decoding, and the comparison rules on
// all the real data, without kmsd.
func TestReplayRecordings(t *testing.T) {
	dir := vectorsDir(t)
	names, err := List(dir, Versions...)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 400 {
		t.Fatalf("only %d vectors in %s", len(names), dir)
	}
	for _, name := range names {
		vec, err := ParseFile(dir, name, time.Now())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		srv := &replayServer{steps: vec.Steps, vals: map[string]any{}, last: NewSession(), errc: make(chan error, 1)}
		r := &Runner{Dir: dir, StepTimeout: 5 * time.Second, Dial: func(context.Context) (net.Conn, error) {
			client, server := net.Pipe()
			go srv.serve(server)
			return client, nil
		}}
		res := r.Run(context.Background(), name)
		if !res.Pass {
			t.Errorf("%s: %s", name, res.Reason)
			continue
		}
		if err := <-srv.errc; err != nil {
			t.Errorf("%s: server: %v", name, err)
		}
	}
}
