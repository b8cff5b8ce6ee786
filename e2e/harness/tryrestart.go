package harness

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// ErrExited is wrapped by TryRestart's error when the process exited
// before it was ready.
var ErrExited = errors.New("harness: exited before it was ready")

// TryRestart is Restart for a node that may refuse to start: it returns nil
// once the node is ready, and an error wrapping ErrExited, with the exit
// status and everything this run printed, if the process exits first. A
// process that is neither ready nor gone after ReadyTimeout is killed, and
// the error says so. Only setup failures fail the test.
func (n *Node) TryRestart(t testing.TB) error {
	t.Helper()
	if n.running() != nil {
		t.Fatalf("harness: restart %s: still running; Stop or Kill it first", n.Name)
	}
	from := len(n.output.Bytes())
	p := n.launch(t)

	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		probe := n.probe()
		if probe == nil {
			return nil
		}
		select {
		case <-p.done:
			p.expected.Store(true) // the caller asked for this outcome
			return fmt.Errorf("%w: %s: %v\n%s", ErrExited, n.Name, exitStatus(p.err), n.output.Bytes()[from:])
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			p.expected.Store(true)
			_ = p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("harness: %s neither ready nor exited after %s (killed; last probe: %v)\n%s",
				n.Name, ReadyTimeout, probe, n.output.Bytes()[from:])
		}
	}
}
