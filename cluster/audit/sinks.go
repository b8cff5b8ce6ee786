package audit

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// WriterSink writes lines to an io.Writer, such as os.Stdout; Close does
// not close it.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriterSink returns a sink writing to w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Write implements Sink.
func (s *WriterSink) Write(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *WriterSink) Close() error { return nil }

// ParseSyslogTarget reads a --audit-syslog value: "local" for the local
// syslog daemon, or network:address with network unix, unixgram, udp or
// tcp ("unixgram:/dev/log", "udp:logs.example:514").
func ParseSyslogTarget(v string) (network, addr string, err error) {
	if v == "local" {
		return "", "", nil
	}
	network, addr, ok := strings.Cut(v, ":")
	switch {
	case !ok || addr == "":
		return "", "", fmt.Errorf("audit: syslog target %q: want local or network:address", v)
	case network != "unix" && network != "unixgram" && network != "udp" && network != "tcp":
		return "", "", fmt.Errorf("audit: syslog target %q: network must be unix, unixgram, udp or tcp", v)
	}
	return network, addr, nil
}
