package audit

import (
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Keys authenticates lines; *seal.Barrier satisfies it. The key never
// leaves it: it computes the MAC.
type Keys interface {
	// AuditKeyVersion is the data key version new lines use; an error
	// (sealed, no data key yet) makes the line unkeyed.
	AuditKeyVersion() (uint32, error)
	// AuditMAC is HMAC-SHA256 of data under the audit key of version.
	AuditMAC(version uint32, data []byte) ([]byte, error)
}

// Sink stores lines. Write gets one whole line, newline included, and
// must not keep it.
type Sink interface {
	Write(line []byte) error
	Close() error
}

// ErrUnavailable is what Record and Ready return in fail-closed mode when
// a line could not be written. Its text is fixed, fit for clients.
var ErrUnavailable = errors.New("audit log unavailable")

// failureLogInterval is the least time between two logged write failures.
const failureLogInterval = 10 * time.Second

// Config configures a Log.
type Config struct {
	// Node is the node id every line names.
	Node string
	// Keys authenticates lines; nil writes unkeyed lines only.
	Keys Keys
	// Sinks receive every line, in order; a Log without sinks records
	// nothing and never fails.
	Sinks []Sink
	// Head is where the chain continues (FileSink.Head); the zero value
	// starts a new chain at sequence number 1.
	Head Head
	// FailClosed makes Record and Ready return ErrUnavailable while lines
	// cannot be written, so that callers refuse the operations; without
	// it failures are logged (at most once every 10s) and ignored.
	FailClosed bool
	Logger     *slog.Logger
	// Now is the clock of lines whose record has no time; default
	// time.Now.
	Now func() time.Time
}

// Head is the end of a chain: the last line's sequence number and MAC.
type Head struct {
	Seq uint64
	MAC []byte
}

// Log writes hash-chained, keyed lines to its sinks. Safe for concurrent
// use: lines are numbered and chained in the order Record is called.
type Log struct {
	cfg    Config
	logger *slog.Logger

	mu      sync.Mutex
	seq     uint64
	prev    []byte
	failing bool // the last line was not written to every sink
	// failure log rate limit
	lastLogged time.Time
	suppressed int
}

// New returns a Log continuing from cfg.Head.
func New(cfg Config) *Log {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Log{cfg: cfg, logger: cfg.Logger.With("component", "audit"), seq: cfg.Head.Seq, prev: make([]byte, macSize)}
	if len(cfg.Head.MAC) == macSize {
		copy(l.prev, cfg.Head.MAC)
	} else {
		l.seq = 0
	}
	return l
}

// Ready reports ErrUnavailable in fail-closed mode while the last line
// could not be written: callers refuse an operation before running it.
// The next Record that succeeds clears it.
func (l *Log) Ready() error {
	if l == nil || !l.cfg.FailClosed {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing {
		return ErrUnavailable
	}
	return nil
}

// Record writes one line. It returns ErrUnavailable only in fail-closed
// mode, when a sink could not write the line.
func (l *Log) Record(r Record) error {
	if l == nil || len(l.cfg.Sinks) == 0 {
		return nil
	}
	ln := newLine(r, l.cfg.Node, l.cfg.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	ln.Seq = l.seq
	ln.Prev = hex.EncodeToString(l.prev)
	body, mac := l.authenticate(&ln)
	out := withMAC(body, mac)
	l.prev = mac
	var failed error
	for _, s := range l.cfg.Sinks {
		if err := s.Write(out); err != nil && failed == nil {
			failed = err
		}
	}
	l.failing = failed != nil
	if failed == nil {
		return nil
	}
	l.logFailure(failed)
	if l.cfg.FailClosed {
		return ErrUnavailable
	}
	return nil
}

// authenticate sets ln.KV and returns the line's body and MAC: keyed under
// the newest data key when the keys are available, else the unkeyed chain
// value. A version retired between the two calls is retried once with the
// newest one. l.mu is held.
func (l *Log) authenticate(ln *line) (body, mac []byte) {
	if l.cfg.Keys != nil {
		for range 2 {
			v, err := l.cfg.Keys.AuditKeyVersion()
			if err != nil || v == 0 {
				break
			}
			ln.KV = v
			body = ln.body()
			mac, err := l.cfg.Keys.AuditMAC(v, macInput(l.prev, body))
			if err == nil && len(mac) == macSize {
				return body, mac
			}
		}
	}
	ln.KV = 0
	body = ln.body()
	return body, unkeyedMAC(l.prev, body)
}

// logFailure logs a write failure at most once every failureLogInterval,
// counting those it skipped. l.mu is held.
func (l *Log) logFailure(err error) {
	now := time.Now()
	if !l.lastLogged.IsZero() && now.Sub(l.lastLogged) < failureLogInterval {
		l.suppressed++
		return
	}
	l.logger.Error("cannot write the audit log", "err", err, "fail_closed", l.cfg.FailClosed,
		"seq", l.seq, "failures_not_logged", l.suppressed)
	l.lastLogged, l.suppressed = now, 0
}

// Close closes every sink.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for _, s := range l.cfg.Sinks {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
