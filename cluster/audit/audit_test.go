package audit

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kmsd/kmsd/cluster/audit/audittest"
)

func TestLineFields(t *testing.T) {
	keys := newFakeKeys()
	lines := writeLog(t, keys, 2)
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, lines[1])
	}
	want := map[string]any{
		"seq": 2.0, "kv": 1.0, "time": "2026-12-04T14:20:27.124456789Z", "node": "node-1",
		"identity": "alice", "tenant": "alice", "role": "client", "operation": "Get", "objects": []any{"obj-1"},
		"result": "success", "request": "req-0", "item": 1.0, "remote": "10.0.0.7:5000",
	}
	for k, v := range want {
		if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(t, v))
		}
	}
	for _, k := range []string{"prev", "mac"} {
		if s, _ := got[k].(string); len(s) != 64 {
			t.Errorf("%s = %q, want 64 hex digits", k, s)
		}
	}
	if _, ok := got["reason"]; ok {
		t.Error("a success names a reason")
	}
	if !strings.HasSuffix(lines[1], "\"}\n") || !strings.Contains(lines[1], `,"mac":"`) {
		t.Errorf("mac is not the last field: %s", lines[1])
	}
	var first map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first["prev"] != strings.Repeat("0", 64) || first["reason"] != "ItemNotFound" || first["result"] != "failure" {
		t.Errorf("first line: prev %v reason %v result %v", first["prev"], first["reason"], first["result"])
	}
	if got["prev"] != first["mac"] {
		t.Error("the second line's prev is not the first line's mac")
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAdminRecordHasNoItem(t *testing.T) {
	sink := &audittest.Sink{}
	l := New(Config{Node: "n", Sinks: []Sink{sink}})
	if err := l.Record(Record{Operation: "kmsd.admin.v1.Admin/Status", Item: -1, Success: true}); err != nil {
		t.Fatal(err)
	}
	if line := sink.Lines()[0]; strings.Contains(line, `"item"`) {
		t.Errorf("admin line has an item: %s", line)
	}
}

func TestFieldsBounded(t *testing.T) {
	long := strings.Repeat("é", 1000)
	objs := make([]string, MaxObjects+5)
	for i := range objs {
		objs[i] = long
	}
	sink := &audittest.Sink{}
	l := New(Config{Node: long, Keys: newFakeKeys(), Sinks: []Sink{sink}})
	r := Record{Identity: long, Tenant: long, Role: long, Operation: long, Objects: objs, Reason: long, RequestID: long, Remote: long}
	if err := l.Record(r); err != nil {
		t.Fatal(err)
	}
	line := sink.Lines()[0]
	if len(line) > MaxLineSize {
		t.Fatalf("line of %d bytes, more than MaxLineSize", len(line))
	}
	var got line2
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{got.Identity, got.Node, got.Objects[0]} {
		if len(f) > maxField+len("…") || !strings.HasSuffix(f, "…") || !utf8.ValidString(f) {
			t.Errorf("field of %d bytes not cut: %.20q…", len(f), f)
		}
	}
	if len(got.Objects) != MaxObjects || got.ObjectsOmitted != 5 {
		t.Errorf("%d objects, %d omitted; want %d, 5", len(got.Objects), got.ObjectsOmitted, MaxObjects)
	}
	if rep := verify(t, newFakeKeys(), sink.Lines()); rep.Problem != nil {
		t.Errorf("bounded line does not verify: %+v", rep.Problem)
	}
}

type line2 struct {
	Node, Identity string
	Objects        []string
	ObjectsOmitted int `json:"objects_omitted"`
}

func TestVerifyIntact(t *testing.T) {
	keys := newFakeKeys()
	sink := &audittest.Sink{}
	l := New(Config{Node: "node-1", Keys: keys, Sinks: []Sink{sink}})
	for i := range 20 {
		if i == 10 {
			keys.rotate()
		}
		if err := l.Record(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	rep := verify(t, keys, sink.Lines())
	if rep.Problem != nil {
		t.Fatalf("intact log: %+v", rep.Problem)
	}
	if rep.Lines != 20 || rep.FirstSeq != 1 || rep.LastSeq != 20 || rep.MidChain || !slices.Equal(rep.KeyVersions, []uint32{1, 2}) {
		t.Errorf("report %+v", rep)
	}
	// The second half alone starts mid-chain and verifies.
	rep = verify(t, keys, sink.Lines()[12:])
	if rep.Problem != nil || !rep.MidChain || rep.FirstSeq != 13 || rep.Start != (Position{"f1", 1}) {
		t.Errorf("mid-chain file: %+v %+v", rep, rep.Problem)
	}
	// Two files in order are one chain; out of order they are not.
	lines := sink.Lines()
	if rep := verify(t, keys, lines[:7], lines[7:]); rep.Problem != nil || rep.Lines != 20 {
		t.Errorf("two files: %+v %+v", rep, rep.Problem)
	}
	rep = verify(t, keys, lines[7:], lines[3:7])
	if rep.Problem == nil || rep.Problem.File != "f2" || rep.Problem.Line != 1 || rep.Problem.Kind != KindInserted {
		t.Errorf("files out of order: %+v", rep.Problem)
	}
	rep = verify(t, keys, lines[7:], lines[:7])
	if rep.Problem == nil || rep.Problem.File != "f2" || rep.Problem.Line != 1 || rep.Problem.Kind != KindRestarted {
		t.Errorf("oldest file last: %+v", rep.Problem)
	}
}

// TestVerifyTampering: each edit is found at the line it hits, with its
// kind.
func TestVerifyTampering(t *testing.T) {
	keys := newFakeKeys()
	orig := writeLog(t, keys, 10)
	edit := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
	withMAC := func(s, mac string) string {
		i := strings.LastIndex(s, `"mac":"`)
		return s[:i] + `"mac":"` + mac + "\"}\n"
	}
	tests := []struct {
		name string
		edit func(l []string) []string
		line int64
		kind string
	}{
		{"content changed", func(l []string) []string {
			l[4] = edit(l[4], `"identity":"alice"`, `"identity":"mallor"`)
			return l
		}, 5, KindModified},
		{"result changed", func(l []string) []string {
			l[3] = edit(l[3], `"result":"failure"`, `"result":"success"`)
			return l
		}, 4, KindModified},
		{"content and MAC changed", func(l []string) []string {
			l[4] = withMAC(edit(l[4], `"alice"`, `"bob"`), strings.Repeat("ab", 32))
			return l
		}, 5, KindBadMAC},
		{"last line changed", func(l []string) []string {
			l[9] = edit(l[9], `"Get"`, `"Put"`)
			return l
		}, 10, KindBadMAC},
		{"line deleted", func(l []string) []string { return slices.Delete(l, 4, 5) }, 5, KindDeleted},
		{"lines deleted", func(l []string) []string { return slices.Delete(l, 2, 6) }, 3, KindDeleted},
		{"forged line inserted", func(l []string) []string {
			return slices.Insert(l, 4, edit(l[4], `"obj-4"`, `"obj-x"`))
		}, 5, KindInserted},
		{"line repeated", func(l []string) []string { return slices.Insert(l, 5, l[4]) }, 6, KindInserted},
		{"lines swapped", func(l []string) []string {
			l[4], l[5] = l[5], l[4]
			return l
		}, 5, KindReordered},
		{"line moved later", func(l []string) []string {
			moved := l[2]
			l = slices.Delete(l, 2, 3)
			return slices.Insert(l, 7, moved)
		}, 3, KindReordered},
		{"line cut short", func(l []string) []string {
			l[4] = l[4][:len(l[4])/2] + "\n"
			return l
		}, 5, KindTruncated},
		{"last line cut short", func(l []string) []string {
			l[9] = l[9][:len(l[9])-10]
			return l
		}, 10, KindTruncated},
		{"empty line", func(l []string) []string { return slices.Insert(l, 3, "\n") }, 4, KindMalformed},
		{"field added", func(l []string) []string {
			l[4] = edit(l[4], `{"seq"`, `{"admin":true,"seq"`)
			return l
		}, 5, KindMalformed},
		{"MAC removed", func(l []string) []string {
			i := strings.LastIndex(l[4], `,"mac":"`)
			l[4] = l[4][:i] + "}\n"
			return l
		}, 5, KindMalformed},
		{"first line changed", func(l []string) []string {
			l[0] = edit(l[0], `"obj-0"`, `"obj-9"`)
			return l
		}, 1, KindModified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verify(t, keys, tt.edit(slices.Clone(orig)))
			if rep.Problem == nil {
				t.Fatal("tampered log verifies")
			}
			if p := rep.Problem; p.Line != tt.line || p.Kind != tt.kind || p.File != "f1" || p.Detail == "" {
				t.Errorf("problem %+v, want line %d kind %s", *p, tt.line, tt.kind)
			}
		})
	}
}

func TestVerifyRetiredAndForeignKey(t *testing.T) {
	keys := newFakeKeys()
	lines := writeLog(t, keys, 3)
	other := newFakeKeys()
	other.keys[1] = make([]byte, 32) // same version, another key
	if rep := verify(t, other, lines); rep.Problem == nil || rep.Problem.Kind != KindBadMAC || rep.Problem.Line != 1 {
		t.Errorf("another cluster's key: %+v", rep.Problem)
	}
	keys.rotate()
	keys.retire(1)
	if rep := verify(t, keys, lines); rep.Problem == nil || rep.Problem.Kind != KindUnverifiable || rep.Problem.Line != 1 {
		t.Errorf("retired version: %+v", rep.Problem)
	}
	if rep := verify(t, nil, lines); rep.Problem == nil || rep.Problem.Kind != KindUnverifiable {
		t.Errorf("no keys: %+v", rep.Problem)
	}
}

// TestUnkeyedLines: lines written while sealed are chained (kv 0) and a
// later keyed line protects them.
func TestUnkeyedLines(t *testing.T) {
	keys := newFakeKeys()
	sink := &audittest.Sink{}
	l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{sink}})
	for i := range 9 {
		keys.setSealed(i >= 3 && i < 6 || i >= 8)
		if err := l.Record(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	keys.setSealed(false)
	lines := sink.Lines()
	if !strings.Contains(lines[3], `"kv":0`) || strings.Contains(lines[2], `"kv":0`) {
		t.Fatalf("kv: %s / %s", lines[2], lines[3])
	}
	rep := verify(t, keys, lines)
	if rep.Problem != nil || rep.Unkeyed != 4 || rep.UnkeyedTail != 1 {
		t.Fatalf("report %+v %+v", rep, rep.Problem)
	}
	// Rewriting an unkeyed line with a fresh chain value is caught by the
	// keyed line after the run.
	forged, err := parseLine([]byte(strings.TrimSuffix(lines[4], "\n")))
	if err != nil {
		t.Fatal(err)
	}
	forged.Identity = "mallory"
	prev, _ := parseLine([]byte(strings.TrimSuffix(lines[3], "\n")))
	body := forged.line.body()
	lines[4] = string(withMAC(body, unkeyedMAC(prev.mac, body)))
	// The forger must also rewrite the next unkeyed line to keep the
	// chain; the keyed line 7 then does not chain to it.
	next, _ := parseLine([]byte(strings.TrimSuffix(lines[5], "\n")))
	next.Prev = hexOf(unkeyedMAC(prev.mac, body))
	nb := next.line.body()
	lines[5] = string(withMAC(nb, unkeyedMAC(unkeyedMAC(prev.mac, body), nb)))
	rep = verify(t, keys, lines)
	if rep.Problem == nil || rep.Problem.Line != 6 || rep.Problem.Kind != KindModified {
		t.Fatalf("forged unkeyed run: %+v", rep.Problem)
	}
}

// TestChainRestart: a new chain after other lines is reported; alone it
// verifies from its start.
func TestChainRestart(t *testing.T) {
	keys := newFakeKeys()
	a, b := writeLog(t, keys, 3), writeLog(t, keys, 2)
	rep := verify(t, keys, a, b)
	if rep.Problem == nil || rep.Problem.Kind != KindRestarted || rep.Problem.Position != (Position{"f2", 1}) {
		t.Fatalf("restarted chain: %+v", rep.Problem)
	}
	if rep := verify(t, keys, b); rep.Problem != nil || rep.MidChain {
		t.Fatalf("new chain alone: %+v %+v", rep, rep.Problem)
	}
}

func TestStreamBounds(t *testing.T) {
	keys := newFakeKeys()
	lines := writeLog(t, keys, 3)
	s := NewStream(keys, 0)
	long := "{" + strings.Repeat("x", MaxLineSize+10) + "}\n"
	_ = s.StartFile("f")
	for _, part := range []string{lines[0], long[:1000], long[1000:], lines[1]} {
		if err := s.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem == nil || rep.Problem.Line != 2 || rep.Problem.Kind != KindMalformed || rep.Lines != 3 {
		t.Fatalf("long line: %+v %+v", rep, rep.Problem)
	}
	s = NewStream(keys, 2)
	_ = s.StartFile("f")
	err = s.Write([]byte(strings.Join(lines, "")))
	if !errors.Is(err, ErrTooManyLines) {
		t.Fatalf("3 lines through a 2-line stream: %v", err)
	}
}

// TestFailClosed: a failing sink makes Record and Ready fail until a line
// is written again; without fail-closed nothing fails and the failure is
// logged once per interval.
func TestFailClosed(t *testing.T) {
	sink := &audittest.Sink{}
	l := New(Config{Node: "n", Sinks: []Sink{sink}, FailClosed: true})
	if err := l.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(record(0)); err != nil {
		t.Fatal(err)
	}
	sink.SetFail(true)
	if err := l.Record(record(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Record with a failing sink: %v", err)
	}
	if err := l.Ready(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready after a failure: %v", err)
	}
	sink.SetFail(false)
	if err := l.Record(record(2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err != nil {
		t.Fatal(err)
	}
	// The lost line is a gap.
	if rep := verify(t, nil, sink.Lines()); rep.Problem == nil || rep.Problem.Kind != KindDeleted {
		t.Errorf("lost line: %+v", rep.Problem)
	}

	var logs strings.Builder
	open := New(Config{Node: "n", Sinks: []Sink{sink}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sink.SetFail(true)
	for i := range 5 {
		if err := open.Record(record(i)); err != nil {
			t.Fatalf("fail-open Record: %v", err)
		}
	}
	if err := open.Ready(); err != nil {
		t.Fatalf("fail-open Ready: %v", err)
	}
	if n := strings.Count(logs.String(), "cannot write the audit log"); n != 1 {
		t.Errorf("failure logged %d times, want 1:\n%s", n, logs.String())
	}
}

func TestNoSinks(t *testing.T) {
	l := New(Config{FailClosed: true})
	if err := l.Record(record(1)); err != nil {
		t.Fatal(err)
	}
	var nilLog *Log
	if nilLog.Record(record(1)) != nil || nilLog.Ready() != nil || nilLog.Close() != nil {
		t.Fatal("a nil Log fails")
	}
}

func TestRecordTimeDefaultsToNow(t *testing.T) {
	sink := &audittest.Sink{}
	now := time.Date(2027, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	l := New(Config{Sinks: []Sink{sink}, Now: func() time.Time { return now }})
	_ = l.Record(Record{Operation: "x", Item: -1})
	if !strings.Contains(sink.Lines()[0], `"time":"2027-01-02T02:04:05.000000006Z"`) {
		t.Errorf("time: %s", sink.Lines()[0])
	}
}

// TestConcurrentRecords: lines recorded from many goroutines, while keys
// rotate, form one chain.
func TestConcurrentRecords(t *testing.T) {
	keys := newFakeKeys()
	sink := &audittest.Sink{}
	l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{sink}})
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				if g == 0 && i == 25 {
					keys.rotate()
				}
				_ = l.Record(record(g*100 + i))
			}
		}()
	}
	for range 8 {
		<-done
	}
	rep := verify(t, keys, sink.Lines())
	if rep.Problem != nil || rep.Lines != 400 || rep.LastSeq != 400 {
		t.Fatalf("concurrent lines: %+v %+v", rep, rep.Problem)
	}
}
