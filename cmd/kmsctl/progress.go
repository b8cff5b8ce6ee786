package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressMeter shows how a long transfer or wait is going, on stderr: on
// a terminal one line rewritten in place every second, otherwise (with
// --progress) one line every progressEvery. Bytes counted through Write are
// shown against the total when it is known; without bytes the line says
// what is being waited for. A nil *progressMeter shows nothing, which is
// the default when stderr is not a terminal (tests, pipes, logs).
type progressMeter struct {
	w        io.Writer
	terminal bool
	label    string // "snapshot save", "waiting for node-4 to join"
	counting bool   // bytes are counted
	total    int64  // 0: unknown
	start    time.Time
	now      func() time.Time

	n        atomic.Int64
	mu       sync.Mutex // serializes lines
	tail     bool       // an in-place line is on screen
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// progressEvery is the interval of progress lines that are not rewritten
// in place.
const progressEvery = 5 * time.Second

// startProgress starts a meter when stderr is a terminal or --progress
// was given, else returns nil. counting says whether bytes will be
// written to it; total is their expected count (0: unknown).
func (a *app) startProgress(label string, counting bool, total int64) *progressMeter {
	f, isFile := a.stderr.(*os.File)
	terminal := isFile && term.IsTerminal(int(f.Fd()))
	if !terminal && !a.flags.progress {
		return nil
	}
	p := newProgressMeter(a.stderr, terminal, label, counting, total, time.Now)
	interval := progressEvery
	if terminal {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	go p.run(t.C, t.Stop)
	return p
}

func newProgressMeter(w io.Writer, terminal bool, label string, counting bool, total int64, now func() time.Time) *progressMeter {
	return &progressMeter{w: w, terminal: terminal, label: label, counting: counting, total: total,
		start: now(), now: now, stop: make(chan struct{}), done: make(chan struct{})}
}

// Write counts bytes; it never fails.
func (p *progressMeter) Write(b []byte) (int, error) {
	if p != nil {
		p.n.Add(int64(len(b)))
	}
	return len(b), nil
}

// writer is p as an io.Writer, io.Discard for a nil meter.
func (p *progressMeter) writer() io.Writer {
	if p == nil {
		return io.Discard
	}
	return p
}

// line is the current progress text.
func (p *progressMeter) line() string {
	elapsed := durationText(p.now().Sub(p.start).Truncate(time.Second))
	if !p.counting {
		return fmt.Sprintf("still %s (%s)", p.label, elapsed)
	}
	n := p.n.Load()
	if p.total > 0 {
		pct := float64(n) * 100 / float64(p.total)
		return fmt.Sprintf("%s: %s of %s (%.0f%%, %s)", p.label, bytesText(n), bytesText(p.total), pct, elapsed)
	}
	return fmt.Sprintf("%s: %s so far (%s)", p.label, bytesText(n), elapsed)
}

// show writes one progress line.
func (p *progressMeter) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line())
		p.tail = true
		return
	}
	fmt.Fprintf(p.w, "kmsctl: %s\n", p.line())
}

// run shows a line at each tick until Stop.
func (p *progressMeter) run(ticks <-chan time.Time, release func()) {
	defer close(p.done)
	defer release()
	for {
		select {
		case <-ticks:
			p.show()
		case <-p.stop:
			return
		}
	}
}

// Stop ends the meter and clears its in-place line, so that the command's
// result starts on a clean line.
func (p *progressMeter) Stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tail {
		fmt.Fprint(p.w, "\r\033[K")
		p.tail = false
	}
}

// bytesText prints a size in binary units: "512 B", "64.0 KiB", "12.3 MiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
