//go:build !windows && !plan9

package audit

import (
	"bytes"
	"fmt"
	"log/syslog"
)

// SyslogTag is the tag of every audit message sent to syslog.
const SyslogTag = "kmsd-audit"

// SyslogSink sends each line as one syslog message (facility auth,
// severity info, tag kmsd-audit). log/syslog reconnects once after a
// failed write.
type SyslogSink struct {
	w *syslog.Writer
}

// DialSyslog connects to the syslog daemon at network and addr; both empty
// mean the local daemon.
func DialSyslog(network, addr string) (*SyslogSink, error) {
	w, err := syslog.Dial(network, addr, syslog.LOG_INFO|syslog.LOG_AUTH, SyslogTag)
	if err != nil {
		return nil, fmt.Errorf("audit: syslog: %w", err)
	}
	return &SyslogSink{w: w}, nil
}

// Write implements Sink.
func (s *SyslogSink) Write(line []byte) error {
	if err := s.w.Info(string(bytes.TrimSuffix(line, []byte("\n")))); err != nil {
		return fmt.Errorf("audit: syslog: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *SyslogSink) Close() error { return s.w.Close() }
