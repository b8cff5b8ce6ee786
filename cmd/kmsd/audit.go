package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/kmsd/kmsd/cluster/audit"
)

// auditOff as --audit-file writes no audit file.
const auditOff = "off"

// defaultAuditFile is the audit file's name in the data dir.
const defaultAuditFile = "audit.log"

// maxAuditFiles bounds --audit-max-files.
const maxAuditFiles = 1000

// auditFlags say where the audit log goes: a file (by default
// <data-dir>/audit.log, rotated by size), stdout, syslog, any of them at
// once.
type auditFlags struct {
	File       string // "": <data-dir>/audit.log; "off": none
	MaxSize    int64
	MaxFiles   int
	Stdout     bool
	Syslog     string // "": none; "local" or network:address
	FailClosed bool
}

func (a *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.File, "audit-file", "", "audit log file, rotated by size (default <data-dir>/"+defaultAuditFile+"; \""+auditOff+"\" writes none)")
	fs.Int64Var(&a.MaxSize, "audit-max-size", audit.DefaultMaxFileSize, "bytes of the audit file past which it is rotated to <file>.1")
	fs.IntVar(&a.MaxFiles, "audit-max-files", audit.DefaultMaxFiles, "rotated audit files kept (<file>.1 the newest); older ones are removed")
	fs.BoolVar(&a.Stdout, "audit-stdout", false, "also write audit lines to stdout")
	fs.StringVar(&a.Syslog, "audit-syslog", "", "also send audit lines to syslog: \"local\", or network:address (unixgram:/dev/log, udp:host:514, tcp:host:601)")
	fs.BoolVar(&a.FailClosed, "audit-fail-closed", false, "refuse KMIP requests (General Failure) and admin calls (Unavailable) while audit lines cannot be written; "+
		"without it a failure is logged and requests go on")
}

// check refuses values that cannot work, before anything starts.
func (a auditFlags) check() error {
	switch {
	case a.MaxSize <= 0:
		return fmt.Errorf("--audit-max-size %d: must be above 0", a.MaxSize)
	case a.MaxFiles <= 0 || a.MaxFiles > maxAuditFiles:
		return fmt.Errorf("--audit-max-files %d: must be between 1 and %d", a.MaxFiles, maxAuditFiles)
	}
	if a.Syslog != "" {
		if _, _, err := audit.ParseSyslogTarget(a.Syslog); err != nil {
			return fmt.Errorf("--audit-syslog: %w", err)
		}
	}
	return nil
}

// path is the audit file of a node with dataDir, or "" for none.
func (a auditFlags) path(dataDir string) string {
	switch a.File {
	case auditOff:
		return ""
	case "":
		return filepath.Join(dataDir, defaultAuditFile)
	}
	return a.File
}

// settings are the flags as config file values, for the nodes that
// kmsd dev --nodes starts; each writes the file in its own data dir unless
// files are off.
func (a auditFlags) settings() map[string]any {
	s := map[string]any{
		"audit-max-size":    a.MaxSize,
		"audit-max-files":   a.MaxFiles,
		"audit-stdout":      a.Stdout,
		"audit-syslog":      a.Syslog,
		"audit-fail-closed": a.FailClosed,
	}
	if a.File == auditOff {
		s["audit-file"] = auditOff
	}
	return s
}

// openAudit opens the sinks the flags name and returns the log, keyed by
// keys, and the audit file's path ("" without one). stdout receives lines
// with --audit-stdout.
func openAudit(a auditFlags, dataDir, nodeID string, keys audit.Keys, stdout io.Writer, logger *slog.Logger) (*audit.Log, string, error) {
	var sinks []audit.Sink
	var head audit.Head
	closeAll := func() {
		for _, s := range sinks {
			_ = s.Close()
		}
	}
	path := a.path(dataDir)
	if path != "" {
		f, h, err := audit.OpenFile(audit.FileConfig{Path: path, MaxSize: a.MaxSize, MaxFiles: a.MaxFiles})
		if err != nil {
			return nil, "", fmt.Errorf("audit file: %w", err)
		}
		sinks, head = append(sinks, f), h
	}
	if a.Stdout {
		if stdout == nil {
			closeAll()
			return nil, "", errors.New("--audit-stdout: this command has no stdout")
		}
		sinks = append(sinks, audit.NewWriterSink(stdout))
	}
	if a.Syslog != "" {
		network, addr, err := audit.ParseSyslogTarget(a.Syslog)
		if err == nil {
			var s *audit.SyslogSink
			if s, err = audit.DialSyslog(network, addr); err == nil {
				sinks = append(sinks, s)
			}
		}
		if err != nil {
			closeAll()
			return nil, "", fmt.Errorf("--audit-syslog: %w", err)
		}
	}
	if len(sinks) == 0 {
		logger.Warn("no audit log: --audit-file off and no other audit sink")
	}
	l := audit.New(audit.Config{Node: nodeID, Keys: keys, Sinks: sinks, Head: head, FailClosed: a.FailClosed, Logger: logger})
	logger.Info("audit log", "file", path, "stdout", a.Stdout, "syslog", a.Syslog, "fail_closed", a.FailClosed, "continues_at_seq", head.Seq+1)
	return l, path, nil
}

// checkAudit checks the audit flags of fs once parsed.
func checkAudit(fs *flag.FlagSet) error {
	var a auditFlags
	get := func(name string) any {
		if f := fs.Lookup(name); f != nil {
			return f.Value.(flag.Getter).Get()
		}
		return nil
	}
	if get("audit-max-size") == nil {
		return nil
	}
	a.MaxSize, _ = get("audit-max-size").(int64)
	a.MaxFiles, _ = get("audit-max-files").(int)
	a.Syslog, _ = get("audit-syslog").(string)
	return a.check()
}
