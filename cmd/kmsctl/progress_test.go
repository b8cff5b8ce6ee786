package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the meter's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is a settable time for the meter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// runMeter runs p on a tick channel the test drives; tick waits until the
// line it asked for is written.
func runMeter(p *progressMeter, out *syncBuffer) (tick func()) {
	ticks := make(chan time.Time)
	go p.run(ticks, func() {})
	return func() {
		before := out.String()
		ticks <- time.Time{}
		for out.String() == before {
			time.Sleep(time.Millisecond)
		}
	}
}

func TestProgressMeter(t *testing.T) {
	clock := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}

	t.Run("bytes against a total, not a terminal", func(t *testing.T) {
		var out syncBuffer
		p := newProgressMeter(&out, false, "snapshot restore", true, 12<<20, clock.now)
		tick := runMeter(p, &out)
		_, _ = p.Write(make([]byte, 3<<20))
		clock.add(4 * time.Second)
		tick()
		_, _ = p.Write(make([]byte, 3<<20))
		clock.add(2*time.Minute + 500*time.Millisecond)
		tick()
		p.Stop()
		want := "kmsctl: snapshot restore: 3.0 MiB of 12.0 MiB (25%, 4s)\n" +
			"kmsctl: snapshot restore: 6.0 MiB of 12.0 MiB (50%, 2m4s)\n"
		if out.String() != want {
			t.Errorf("got %q\nwant %q", out.String(), want)
		}
	})
	t.Run("bytes without a total, on a terminal", func(t *testing.T) {
		var out syncBuffer
		p := newProgressMeter(&out, true, "snapshot save", true, 0, clock.now)
		tick := runMeter(p, &out)
		_, _ = p.Write(make([]byte, 1536))
		clock.add(time.Second)
		tick()
		p.Stop()
		// The line is rewritten in place and cleared at the end, so
		// that the result starts on a clean line.
		if want := "\r\033[Ksnapshot save: 1.5 KiB so far (1s)\r\033[K"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
	t.Run("waiting", func(t *testing.T) {
		var out syncBuffer
		p := newProgressMeter(&out, false, "waiting for a:1 to join via b:2", false, 0, clock.now)
		tick := runMeter(p, &out)
		clock.add(12 * time.Second)
		tick()
		p.Stop()
		p.Stop() // idempotent
		if want := "kmsctl: still waiting for a:1 to join via b:2 (12s)\n"; out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		var p *progressMeter
		if n, err := p.writer().Write([]byte("abc")); n != 3 || err != nil {
			t.Errorf("nil meter's writer: %d, %v", n, err)
		}
		p.Stop()
	})
}

func TestStartProgress(t *testing.T) {
	var out syncBuffer
	a := &app{stderr: &out}
	// Not a terminal: quiet unless --progress.
	if p := a.startProgress("x", true, 0); p != nil {
		t.Error("a meter without a terminal or --progress")
	}
	a.flags.progress = true
	p := a.startProgress("x", true, 0)
	if p == nil || p.terminal {
		t.Fatalf("with --progress: %+v", p)
	}
	p.Stop()
	if out.String() != "" {
		t.Errorf("a meter stopped before its first tick wrote %q", out.String())
	}
}

func TestBytesText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := bytesText(n); got != want {
			t.Errorf("bytesText(%d) = %q, want %q", n, got, want)
		}
	}
	if !strings.HasSuffix(bytesText(1<<62), "EiB") && !strings.HasSuffix(bytesText(1<<62), "PiB") {
		t.Errorf("bytesText(1<<62) = %q", bytesText(1<<62))
	}
}
