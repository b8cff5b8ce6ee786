package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/devpki"
)

const (
	// ReadyTimeout bounds how long StartDev and Restart wait for a node to
	// answer Discover Versions.
	ReadyTimeout = 30 * time.Second
	// StopTimeout is how long a node has to exit after SIGTERM before it
	// is killed.
	StopTimeout = 10 * time.Second
)

// PKI holds the paths of the PEM files `kmsd dev` writes into <dir>/pki,
// by trust domain: KMIP (CA, the KMIP server and a client certificate),
// operators (AdminCA and an admin certificate) and nodes (NodeCA; node
// certificates are per node, see NodeCert).
type PKI struct {
	Dir                                              string
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	AdminCA, AdminCert, AdminKey                     string
	NodeCA                                           string
	GossipKey                                        string // 32 raw bytes, mode 0600
}

// Node is one kmsd process and what a test needs to reach it.
type Node struct {
	Dir      string // --data-dir
	KMIPAddr string // 127.0.0.1:port
	RaftAddr string // 127.0.0.1:port
	// AdminAddr is the gRPC admin API and node service; GossipAddr the
	// memberlist port.
	AdminAddr, GossipAddr string
	PKI                   PKI
	// NodeCert and NodeKey are its node certificate, from PKI.NodeCA.
	NodeCert, NodeKey string
	Name              string // prefix of its log lines
	// Env is added to the process environment at each start.
	Env []string

	// raftListen and adminListen are the addresses the node listens on
	// behind a FaultNet's relays (RaftAddr and AdminAddr).
	raftListen, adminListen string
	removed                 bool // Cluster.Remove took it out of the cluster

	t    testing.TB // the test that started it: logs and cleanup
	args []string

	mu     sync.Mutex
	proc   *process // the current or last process
	output syncBuffer
}

// process is one run of the binary.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed once Wait returned and the output is flushed
	err      error         // from Wait, valid after done
	expected atomic.Bool   // Kill or Stop asked it to exit
}

var nodeCount atomic.Int32

// DevNodeID is the node id of a `kmsd dev` node.
const DevNodeID = "node-1"

// StartDev starts `kmsd dev` on fresh 127.0.0.1 ports with its data (and PKI)
// in dir, or in a new t.TempDir() if dir is "", and waits until it answers a
// Discover Versions request over mutual TLS. extraArgs are appended to the
// command line (e.g. "--snapshot-threshold", "16") and kept for Restart.
// The process is stopped by t.Cleanup (SIGTERM, then SIGKILL after
// StopTimeout).
func StartDev(t testing.TB, dir string, extraArgs ...string) *Node {
	t.Helper()
	bin := kmsdBinary(t)
	if dir == "" {
		dir = t.TempDir()
	}
	pki := devpki.PathsIn(filepath.Join(dir, "pki"))
	n := &Node{
		Dir:      dir,
		KMIPAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		RaftAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),

		AdminAddr:  "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		GossipAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		PKI:        pkiFiles(pki),
		NodeCert:   pki.NodeCert(DevNodeID), NodeKey: pki.NodeKey(DevNodeID),
		Name: fmt.Sprintf("kmsd-%d", nodeCount.Add(1)),
		t:    t,
	}
	n.args = append([]string{bin, "dev", "--data-dir", dir, "--kmip-addr", n.KMIPAddr, "--raft-addr", n.RaftAddr,
		"--admin-addr", n.AdminAddr, "--gossip-addr", n.GossipAddr}, extraArgs...)
	t.Cleanup(n.cleanup)
	n.start(t)
	return n
}

// start runs the binary and waits until it is ready.
func (n *Node) start(t testing.TB) {
	t.Helper()
	n.waitReady(t, n.launch(t))
}

// launch runs the binary.
func (n *Node) launch(t testing.TB) *process {
	t.Helper()
	cmd := exec.Command(n.args[0], n.args[1:]...)
	if len(n.Env) > 0 {
		cmd.Env = append(os.Environ(), n.Env...)
	}
	stdout := &lineLogger{t: n.t, prefix: n.Name + ": ", keep: &n.output}
	stderr := &lineLogger{t: n.t, prefix: n.Name + ": ", keep: &n.output}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: start %s: %v", n.Name, err)
	}
	n.t.Logf("harness: %s started (pid %d): %v", n.Name, cmd.Process.Pid, n.args[1:])
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait() // returns after the output was copied
		stdout.flush()
		stderr.flush()
		close(p.done)
	}()
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	return p
}

// waitReady polls Discover Versions until it succeeds, the process exits,
// or ReadyTimeout passes.
func (n *Node) waitReady(t testing.TB, p *process) {
	t.Helper()
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := n.probe()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: %s not ready after %s: %v", n.Name, ReadyTimeout, err)
		}
		select {
		case <-p.done:
			t.Fatalf("harness: %s exited before it was ready: %v (last probe: %v)", n.Name, exitStatus(p.err), err)
		case <-tick.C:
		}
	}
}

// running returns the current process if it has not exited.
func (n *Node) running() *process {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
		return p
	}
}

// Kill sends SIGKILL and waits for the process to exit.
func (n *Node) Kill() {
	p := n.running()
	if p == nil {
		return
	}
	p.expected.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.done
	n.t.Logf("harness: %s killed", n.Name)
}

// Stop sends SIGTERM and waits for the exit. It fails the test if the
// process exits with a non-zero status that SIGTERM does not explain, or
// does not exit within StopTimeout (it is then killed).
func (n *Node) Stop() {
	p := n.running()
	if p == nil {
		return
	}
	if err := n.terminate(p); err != nil {
		n.t.Errorf("harness: stop %s: %v", n.Name, err)
		return
	}
	n.t.Logf("harness: %s stopped", n.Name)
}

// terminate sends SIGTERM, waits up to StopTimeout, then SIGKILL. It returns
// an error for a timeout or an exit status other than 0 or death by SIGTERM.
func (n *Node) terminate(p *process) error {
	p.expected.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(StopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		// SIGQUIT makes a Go program print its goroutines, which show
		// what it waits for, and exit.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		return fmt.Errorf("did not exit within %s of SIGTERM; stopped with SIGQUIT (its goroutines are in its log)", StopTimeout)
	}
	if cleanExit(p.err) {
		return nil
	}
	return fmt.Errorf("exit after SIGTERM: %v", exitStatus(p.err))
}

// Restart starts the node again with the same data directory and ports and
// waits until it is ready. The node must have been stopped or killed.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if n.running() != nil {
		t.Fatalf("harness: restart %s: still running; Stop or Kill it first", n.Name)
	}
	n.start(t)
}

// cleanup stops a running node at the end of the test, and reports a node
// that died on its own with a failure status.
func (n *Node) cleanup() {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return
	}
	if n.running() != nil {
		if err := n.terminate(p); err != nil {
			n.t.Errorf("harness: %s at cleanup: %v", n.Name, err)
		}
		return
	}
	if !p.expected.Load() && p.err != nil {
		n.t.Errorf("harness: %s exited unexpectedly: %v", n.Name, exitStatus(p.err))
	}
}

func cleanExit(err error) bool {
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lineLogger writes each complete line to t.Log with a prefix, and keeps a
// copy of everything written.
type lineLogger struct {
	t      testing.TB
	prefix string
	keep   *syncBuffer
	mu     sync.Mutex
	buf    []byte
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Output is everything the node's processes have written to stdout and
// stderr so far: its logs.
func (n *Node) Output() []byte { return n.output.Bytes() }

const maxLine = 64 << 10

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keep != nil {
		l.keep.Write(p)
	}
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) > maxLine {
				l.t.Log(l.prefix + string(l.buf))
				l.buf = l.buf[:0]
			}
			return len(p), nil
		}
		l.t.Log(l.prefix + string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log(l.prefix + string(l.buf))
		l.buf = nil
	}
}
