package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// build is the result of building one command, shared by the whole test
// process.
type build struct {
	once sync.Once
	path string
	err  error
}

var (
	binDirOnce sync.Once
	binDir     string
	binDirErr  error

	kmsdBuild, kmsctlBuild build
)

// Binaries returns the paths of kmsd and kmsctl built from this repository
// (./cmd/kmsd, ./cmd/kmsctl). They are built once per test process into a
// temporary directory and shared by every test; a build failure fails the
// test with the compiler output.
func Binaries(t testing.TB) (kmsd, kmsctl string) {
	t.Helper()
	return kmsdBinary(t), kmsctlBinary(t)
}

func kmsdBinary(t testing.TB) string {
	t.Helper()
	return kmsdBuild.get(t, "kmsd")
}

func kmsctlBinary(t testing.TB) string {
	t.Helper()
	return kmsctlBuild.get(t, "kmsctl")
}

func (b *build) get(t testing.TB, name string) string {
	t.Helper()
	b.once.Do(func() { b.path, b.err = goBuild(name) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func goBuild(name string) (string, error) {
	binDirOnce.Do(func() { binDir, binDirErr = os.MkdirTemp("", "kmsd-e2e-bin-") })
	if binDirErr != nil {
		return "", fmt.Errorf("harness: %w", binDirErr)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(binDir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: go build ./cmd/%s: %w\n%s", name, err, output)
	}
	return out, nil
}

// RemoveBinaries deletes the temporary directory of the built binaries. Call
// it from TestMain after m.Run.
func RemoveBinaries() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// RepoRoot returns the directory holding go.mod, searched upwards from the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago for both
// TCP and UDP (gossip uses both). It is taken below the kernel's ephemeral
// range, so outgoing connections of other tests cannot grab it before kmsd
// binds it.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		port := int(portBase + nextPort.Add(1)%portSpan)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", l.Addr().String())
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = u.Close()
		return port
	}
	t.Fatal("harness: no free port")
	return 0
}

// Ports are handed out from [portBase, portBase+portSpan), starting at a
// point that depends on the process, so parallel test binaries rarely meet.
const (
	portBase = 20000
	portSpan = 12000
)

var nextPort = func() *atomic.Int64 {
	var n atomic.Int64
	n.Store(int64(os.Getpid()*7919) % portSpan)
	return &n
}()
