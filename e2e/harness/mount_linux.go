package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on dir (created if missing) and
// unmounts it in t.Cleanup. What dir held is copied into the new file
// system first, so a stopped node's data folder keeps its files. It
// returns an error, and mounts nothing, when the mount is not permitted
// (the test is not root), so that the caller can skip.
func MountTmpfs(t testing.TB, dir string, size int64) error {
	t.Helper()
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	return remount(t, dir, func() error {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
			return fmt.Errorf("harness: mount -t tmpfs -o %s %s: %w", opts, dir, err)
		}
		return nil
	}, func() error { return syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// remount mounts a file system on dir with mount, keeping what dir held,
// and undoes it with unmount in t.Cleanup.
func remount(t testing.TB, dir string, mount, unmount func() error) error {
	t.Helper()
	saved := t.TempDir()
	if err := os.CopyFS(saved, os.DirFS(dir)); err != nil {
		return fmt.Errorf("harness: save %s: %w", dir, err)
	}
	modes, err := fileModes(dir)
	if err != nil {
		return err
	}
	if err := mount(); err != nil {
		return err
	}
	t.Cleanup(func() {
		if err := unmount(); err != nil {
			t.Errorf("harness: unmount %s: %v", dir, err)
		}
	})
	if err := os.CopyFS(dir, os.DirFS(saved)); err != nil {
		return fmt.Errorf("harness: restore %s: %w", dir, err)
	}
	// os.CopyFS makes every file 0644 or 0755, and kmsd checks that its
	// keys are private.
	for rel, mode := range modes {
		if err := os.Chmod(filepath.Join(dir, rel), mode); err != nil {
			return fmt.Errorf("harness: %w", err)
		}
	}
	return nil
}

// fileModes maps each path under dir to its permission bits.
func fileModes(dir string) (map[string]os.FileMode, error) {
	modes := map[string]os.FileMode{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		modes[rel] = info.Mode().Perm()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	return modes, nil
}

// FillDisk writes the file path until the file system it is on is full
// (ENOSPC), and returns how many bytes it wrote.
func FillDisk(path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
