//go:build !linux

package main

import "syscall"

func childAttrs() *syscall.SysProcAttr { return nil }

// disableCoreDumps does nothing here: servers run on Linux, where it turns
// core dumps off; other platforms are for development.
func disableCoreDumps() error { return nil }
