package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// childAttrs makes a dev cluster node stop when the dev command dies, so no
// node outlives it by accident.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// disableCoreDumps keeps key material out of core files: no core dump is
// written, and the process is not dumpable (nor readable through
// /proc/<pid>/mem or ptrace by other unprivileged processes).
func disableCoreDumps() error {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
