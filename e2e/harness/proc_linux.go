package harness

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill kmsd if the test binary dies (a
// `go test -timeout` panic, say), so no server outlives its test run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
