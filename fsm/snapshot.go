package fsm

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	memdb "github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// Snapshot format: the magic, a format version, the applied index, then one
// length-prefixed StoredObject per object, then a zero length.
const (
	snapshotMagic   = "KMSDSNAP"
	snapshotVersion = 1
	// maxRecord bounds one record so a corrupt length cannot allocate wildly.
	maxRecord = 64 << 20
)

// ErrBadSnapshot reports a snapshot this build cannot read.
var ErrBadSnapshot = errors.New("fsm: bad snapshot")

// Snapshot is a point-in-time view of the store.
type Snapshot struct {
	tx      *memdb.Txn
	applied uint64
}

// Snapshot captures the current state; it is cheap (a memdb read transaction).
func (f *FSM) Snapshot() *Snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &Snapshot{tx: f.db.Txn(false), applied: f.applied}
}

// Persist streams the snapshot to w.
func (s *Snapshot) Persist(w io.Writer) error {
	bw := bufio.NewWriter(w)
	hdr := make([]byte, 0, len(snapshotMagic)+12)
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, snapshotVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, s.applied)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	it, err := s.tx.Get(tableObjects, indexID)
	if err != nil {
		return err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	for raw := it.Next(); raw != nil; raw = it.Next() {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(raw.(*Object).ToProto())
		if err != nil {
			return err
		}
		n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
		if _, err := bw.Write(lenBuf[:n]); err != nil {
			return err
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// Restore replaces the whole store with the snapshot read from r. The new
// store is built aside and swapped in only when complete.
func (f *FSM) Restore(r io.Reader) error {
	br := bufio.NewReader(r)
	hdr := make([]byte, len(snapshotMagic)+12)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return fmt.Errorf("%w: not a kmsd snapshot", ErrBadSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[len(snapshotMagic):]); v != snapshotVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrBadSnapshot, v, snapshotVersion)
	}
	applied := binary.BigEndian.Uint64(hdr[len(snapshotMagic)+4:])

	db := newDB()
	tx := db.Txn(true)
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			tx.Abort()
			return fmt.Errorf("%w: record length: %v", ErrBadSnapshot, err)
		}
		if n == 0 {
			break
		}
		if n > maxRecord {
			tx.Abort()
			return fmt.Errorf("%w: record of %d bytes", ErrBadSnapshot, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			tx.Abort()
			return fmt.Errorf("%w: record: %v", ErrBadSnapshot, err)
		}
		p := &kmsdpb.StoredObject{}
		if err := proto.Unmarshal(b, p); err != nil {
			tx.Abort()
			return fmt.Errorf("%w: record: %v", ErrBadSnapshot, err)
		}
		o, err := ObjectFromProto(p)
		if err != nil {
			tx.Abort()
			return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
		if err := putObject(tx, o); err != nil {
			tx.Abort()
			return err
		}
	}
	tx.Commit()

	f.mu.Lock()
	f.db = db
	f.applied = applied
	f.mu.Unlock()
	return nil
}

// Digest returns a SHA-256 over the whole store in id order. Replicas that
// applied the same log have the same digest.
func (f *FSM) Digest() ([32]byte, error) {
	h := sha256.New()
	s := f.Snapshot()
	s.applied = 0 // the digest covers content, not how far the log went
	if err := s.Persist(h); err != nil {
		return [32]byte{}, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Count returns the number of objects in the store.
func (f *FSM) Count() int {
	it, err := f.readTxn().Get(tableObjects, indexID)
	if err != nil {
		return 0
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n
}
