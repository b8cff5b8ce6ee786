package kmiptest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logs routes slog records to t.Log and keeps them so a test can assert that
// nothing alarming was logged (a recovered panic, for instance). Records that
// arrive after the test finished are kept but not printed: a connection
// goroutine may still be winding down.
type Logs struct {
	mu      sync.Mutex
	t       testing.TB
	done    bool
	records []string
}

// NewLogs returns a Logs bound to t.
func NewLogs(t testing.TB) *Logs {
	l := &Logs{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

// Logger returns a logger that writes to l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(&logHandler{logs: l, level: slog.LevelDebug})
}

// Contains returns the recorded lines that contain substr.
func (l *Logs) Contains(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if strings.Contains(r, substr) {
			out = append(out, r)
		}
	}
	return out
}

func (l *Logs) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, line)
	if !l.done {
		l.t.Log(line)
	}
}

type logHandler struct {
	logs  *Logs
	level slog.Level
	attrs []slog.Attr
}

func (h *logHandler) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= h.level }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "stack" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	h.logs.add(b.String())
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup flattens groups; the fixtures do not use them.
func (h *logHandler) WithGroup(string) slog.Handler { return h }
