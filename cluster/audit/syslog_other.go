//go:build windows || plan9

package audit

import "errors"

// SyslogSink is not available on this platform.
type SyslogSink struct{}

// DialSyslog fails: log/syslog does not exist on this platform.
func DialSyslog(network, addr string) (*SyslogSink, error) {
	return nil, errors.New("audit: syslog is not available on this platform")
}

// Write implements Sink.
func (*SyslogSink) Write([]byte) error {
	return errors.New("audit: syslog is not available on this platform")
}

// Close implements Sink.
func (*SyslogSink) Close() error { return nil }
