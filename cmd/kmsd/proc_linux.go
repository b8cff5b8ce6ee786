package main

import "syscall"

// childAttrs makes a dev cluster node stop when the dev command dies, so no
// node outlives it by accident.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
