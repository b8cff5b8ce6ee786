// Package audittest has an in-memory audit sink for tests of the packages
// that write audit lines.
package audittest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// Sink keeps the lines written to it; SetFail makes writes fail as a full
// disk would.
type Sink struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	fail bool
}

// Write implements the audit sink.
func (s *Sink) Write(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.buf.Write(line)
	return nil
}

// Close implements the audit sink.
func (s *Sink) Close() error { return nil }

// SetFail makes the following writes fail (or succeed again).
func (s *Sink) SetFail(f bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// Bytes returns a copy of everything written.
func (s *Sink) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// Lines returns the lines written, each with its newline.
func (s *Sink) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := strings.SplitAfter(s.buf.String(), "\n")
	return l[:len(l)-1]
}

// Decode returns the lines written, each decoded from JSON into a T.
func Decode[T any](t testing.TB, s *Sink) []T {
	t.Helper()
	var out []T
	for _, l := range bytes.Split(bytes.TrimSuffix(s.Bytes(), []byte("\n")), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, l)
		}
		out = append(out, v)
	}
	return out
}
