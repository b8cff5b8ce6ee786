//go:build !linux

package harness

import (
	"errors"
	"testing"
)

var errNoTmpfs = errors.New("harness: mounting a tmpfs needs Linux")

// MountTmpfs mounts a tmpfs on Linux only; elsewhere it returns an error.
func MountTmpfs(t testing.TB, dir string, size int64) error { return errNoTmpfs }

// FillDisk fills a file system on Linux only; elsewhere it returns an error.
func FillDisk(path string) (int64, error) { return 0, errNoTmpfs }
