package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Disk is a node's data folder on a file system of its own: an ext4 file
// system on a loop device, whose writes can be throttled (a slow disk,
// slow fsync) through a blkio cgroup and which can be filled up.
type Disk struct {
	dir    string
	majmin string // of the loop device
	cgroup string // blkio cgroup folder, once throttled
}

const blkioRoot = "/sys/fs/cgroup/blkio"

// LoopDisk puts the data folder of the stopped node n on an ext4 file
// system of size bytes (a sparse image in a t.TempDir on a loop device),
// keeping its files. It returns an error, and changes nothing, where loop
// devices or mounts are not permitted (not root).
func LoopDisk(t testing.TB, n *Node, size int64) (*Disk, error) {
	t.Helper()
	if n.running() != nil {
		return nil, errors.New("harness: LoopDisk needs a stopped node")
	}
	if _, err := os.Stat(blkioRoot); err != nil {
		return nil, fmt.Errorf("harness: no blkio cgroup hierarchy at %s", blkioRoot)
	}
	image := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(image, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Truncate(image, size); err != nil {
		return nil, err
	}
	out, err := exec.Command("losetup", "--find", "--show", image).Output()
	if err != nil {
		return nil, fmt.Errorf("harness: losetup: %w", err)
	}
	dev := strings.TrimSpace(string(out))
	detach := func() { _ = exec.Command("losetup", "--detach", dev).Run() }
	if out, err := exec.Command("mkfs.ext4", "-q", dev).CombinedOutput(); err != nil {
		detach()
		return nil, fmt.Errorf("harness: mkfs.ext4 %s: %v: %s", dev, err, out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		detach()
		return nil, err
	}
	d := &Disk{dir: n.Dir, majmin: fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))}
	err = remount(t, n.Dir, func() error {
		if err := syscall.Mount(dev, n.Dir, "ext4", 0, ""); err != nil {
			return fmt.Errorf("harness: mount %s on %s: %w", dev, n.Dir, err)
		}
		return os.Chmod(n.Dir, 0o700)
	}, func() error {
		// This runs before the node's own cleanup: stop it first, so
		// that its cgroup can go and nothing writes to the disk.
		n.Stop()
		err := syscall.Unmount(n.Dir, syscall.MNT_DETACH)
		detach()
		if d.cgroup != "" {
			_ = os.Remove(d.cgroup)
		}
		return err
	})
	if err != nil {
		detach()
		return nil, err
	}
	return d, nil
}

// Throttle limits the running node n to iops writes a second on the disk:
// each fsync then waits for the device.
func (d *Disk) Throttle(n *Node, iops int) error {
	p := n.running()
	if p == nil {
		return errors.New("harness: " + n.Name + " is not running")
	}
	if d.cgroup == "" {
		d.cgroup = filepath.Join(blkioRoot, fmt.Sprintf("kmsd-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(d.majmin, ":", "-")))
		if err := os.Mkdir(d.cgroup, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("harness: %w", err)
		}
	}
	if err := d.limit(iops); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.cgroup, "cgroup.procs"), []byte(strconv.Itoa(p.cmd.Process.Pid)), 0o644)
}

// Unthrottle lifts the limit.
func (d *Disk) Unthrottle() error {
	if d.cgroup == "" {
		return nil
	}
	return d.limit(0)
}

func (d *Disk) limit(iops int) error {
	v := fmt.Sprintf("%s %d", d.majmin, iops)
	if err := os.WriteFile(filepath.Join(d.cgroup, "blkio.throttle.write_iops_device"), []byte(v), 0o644); err != nil {
		return fmt.Errorf("harness: blkio write limit %q: %w", v, err)
	}
	return nil
}

// Fill fills the disk with a filler file and returns the bytes written.
func (d *Disk) Fill() (int64, error) { return FillDisk(d.filler()) }

// Unfill removes the filler.
func (d *Disk) Unfill() error { return os.Remove(d.filler()) }

func (d *Disk) filler() string { return filepath.Join(d.dir, "filler") }
