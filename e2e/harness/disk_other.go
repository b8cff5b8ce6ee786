//go:build !linux

package harness

import (
	"errors"
	"testing"
)

// Disk is a node's data folder on a file system of its own (Linux only).
type Disk struct{}

var errNoDisk = errors.New("harness: loop disks need Linux")

// LoopDisk works on Linux only.
func LoopDisk(t testing.TB, n *Node, size int64) (*Disk, error) { return nil, errNoDisk }

// Throttle works on Linux only.
func (d *Disk) Throttle(n *Node, iops int) error { return errNoDisk }

// Unthrottle works on Linux only.
func (d *Disk) Unthrottle() error { return errNoDisk }

// Fill works on Linux only.
func (d *Disk) Fill() (int64, error) { return 0, errNoDisk }

// Unfill works on Linux only.
func (d *Disk) Unfill() error { return errNoDisk }
