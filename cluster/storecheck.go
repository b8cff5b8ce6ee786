package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// ErrDamagedStore is wrapped by New's error when a file of the Raft state
// is damaged: the node refuses to start rather than run on a partial log.
var ErrDamagedStore = errors.New("cluster: damaged raft state")

// bbolt's file format (go.etcd.io/bbolt, page.go and db.go): pages 0 and 1
// each hold a meta record after a 16-byte page header; the one with the
// higher transaction id and a valid checksum is current. Its pgid field is
// the high-water mark: pages below it are in use, so the file must hold at
// least pgid pages.
const (
	boltPageHeader = 16
	boltMetaSize   = 64 // magic, version, page size, flags, root (16), freelist, pgid, txid, checksum
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltNoFreelist = ^uint64(0) // the free list is not kept in the file
)

type boltMeta struct {
	pageSize       uint32
	freelist, pgid uint64
	txid           uint64
}

// checkLogStore reads the meta pages of the bbolt file at path and checks
// that the file holds every page they say is in use. bbolt itself does not:
// on a truncated file it panics, on open or at a later write, with a
// message that names neither the file nor the cause; and on an empty or
// missing file it starts a new log, so that raft would serve the newest
// snapshot without the entries after it. A missing file is fine for a new
// node, which has no snapshot either (haveSnapshots false).
func checkLogStore(path string, haveSnapshots bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if haveSnapshots {
			return fmt.Errorf("%w: log store %s is missing but snapshots exist: the entries after the newest snapshot "+
				"and the node's vote would be lost; %s", ErrDamagedStore, path, damagedAdvice)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: log store: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cluster: log store: %w", err)
	}
	size := st.Size()
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("%w: log store %s (%d bytes): %s; %s", ErrDamagedStore, path, size, fmt.Sprintf(format, args...), damagedAdvice)
	}
	first, err := readBoltMeta(f, 0)
	if err != nil {
		return damaged("cannot read its first meta page: %v", err)
	}
	pageSize := int64(os.Getpagesize())
	if first != nil {
		pageSize = int64(first.pageSize)
	}
	second, err := readBoltMeta(f, pageSize)
	if err != nil && first == nil {
		return damaged("cannot read its meta pages: %v", err)
	}
	meta := first
	if meta == nil || second != nil && second.txid > meta.txid {
		meta = second
	}
	switch {
	case meta == nil:
		return damaged("neither meta page is valid (not a bbolt file, or both pages overwritten)")
	case int64(meta.pgid)*int64(meta.pageSize) > size:
		return damaged("truncated: its meta page says %d pages of %d bytes (%d bytes) are in use",
			meta.pgid, meta.pageSize, int64(meta.pgid)*int64(meta.pageSize))
	case meta.freelist >= meta.pgid && meta.freelist != boltNoFreelist:
		return damaged("its free list is at page %d, past the %d pages in use", meta.freelist, meta.pgid)
	}
	return nil
}

// damagedAdvice ends the error of a damaged store.
const damagedAdvice = "restore the data folder from a backup, or remove the node from the cluster and join it again with an empty data folder"

// readBoltMeta reads the meta record of the page at off; nil, nil if the
// page is there but its record is not valid.
func readBoltMeta(f *os.File, off int64) (*boltMeta, error) {
	buf := make([]byte, boltPageHeader+boltMetaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	m := buf[boltPageHeader:]
	le := binary.LittleEndian // bbolt writes native order; kmsd runs on little-endian machines
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || le.Uint64(m[56:]) != h.Sum64() {
		return nil, nil
	}
	meta := &boltMeta{pageSize: le.Uint32(m[8:]), freelist: le.Uint64(m[32:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if meta.pageSize < 512 {
		return nil, nil
	}
	return meta, nil
}

// openLogStore checks and opens the bbolt log and stable store. A panic of
// bbolt while opening a file that passed the check (damage inside a page)
// becomes an error naming the file.
func openLogStore(path string, haveSnapshots bool) (store *raftboltdb.BoltStore, err error) {
	if err := checkLogStore(path, haveSnapshots); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			store, err = nil, fmt.Errorf("%w: log store %s does not open: %v", ErrDamagedStore, path, r)
		}
	}()
	store, err = raftboltdb.NewBoltStore(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: open log store %s: %w", path, err)
	}
	return store, nil
}

// explainSnapshots is NewRaft's error when none of the snapshots loaded:
// raft says only "failed to load any existing snapshots" and logs the
// reason of each; this names each snapshot's folder and its problem.
func explainSnapshots(err error, snaps *raft.FileSnapshotStore, dir string) error {
	metas, lerr := snaps.List()
	plain := fmt.Errorf("cluster: start raft: %w", err)
	if lerr != nil {
		return plain
	}
	var problems []string
	for _, m := range metas {
		_, rc, oerr := snaps.Open(m.ID)
		if oerr == nil {
			_ = rc.Close()
			continue
		}
		problems = append(problems, fmt.Sprintf("%s: %v", filepath.Join(dir, "snapshots", m.ID), oerr))
	}
	if len(metas) == 0 || len(problems) < len(metas) {
		return plain // a snapshot opens: the failure is elsewhere
	}
	return fmt.Errorf("%w: no snapshot loads (%s), and without one the log does not hold the whole state; %s (raft: %v)",
		ErrDamagedStore, strings.Join(problems, "; "), damagedAdvice, err)
}

// hasSnapshots reports whether raft's snapshot folder under dir holds a
// snapshot, readable or not.
func hasSnapshots(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "meta.json"))
	return len(m) > 0
}
