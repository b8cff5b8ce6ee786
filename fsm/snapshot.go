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
// length-prefixed StoredObject per object and a zero length; from version 2
// on, one length-prefixed AppliedRequest per remembered request and a zero
// length follow; from version 3 on, the cluster section: one
// length-prefixed ControlRecord each (cluster id, join tokens, data keys)
// and a zero length. Policy entries are records of the cluster section too;
// version 4 adds the clock record (clock.go).
const (
	snapshotMagic   = "KMSDSNAP"
	snapshotVersion = 4
	// maxRecord bounds one record so a corrupt length cannot allocate wildly.
	maxRecord = 64 << 20
)

// ErrBadSnapshot reports a snapshot this build cannot read.
var ErrBadSnapshot = errors.New("fsm: bad snapshot")

// Snapshot is a point-in-time view of the store.
type Snapshot struct {
	tx       *memdb.Txn
	requests []*appliedRequest
	applied  uint64
}

// Index is the index of the last command the snapshot holds.
func (s *Snapshot) Index() uint64 { return s.applied }

// KeyVersions lists the data key versions of the snapshot's keyring,
// oldest first.
func (s *Snapshot) KeyVersions() []uint32 { return keyVersions(s.tx) }

// Snapshot captures the current state; it is cheap (a memdb read
// transaction and the remembered requests, neither copied).
func (f *FSM) Snapshot() *Snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &Snapshot{tx: f.db.Txn(false), requests: f.requests.snapshot(), applied: f.applied}
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
	if err := persistObjects(bw, s.tx); err != nil {
		return err
	}
	for _, r := range byRequestID(s.requests) {
		if err := writeRecord(bw, r.toProto()); err != nil {
			return err
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	control, err := controlRecords(s.tx)
	if err != nil {
		return err
	}
	if err := writeRecords(bw, control); err != nil {
		return err
	}
	return bw.Flush()
}

// persistObjects writes every object in id order as a length-prefixed
// StoredObject record, then a zero length. Each record is encoded straight
// from the row into one reused buffer.
func persistObjects(bw *bufio.Writer, tx *memdb.Txn) error {
	it, err := tx.Get(tableObjects, indexID)
	if err != nil {
		return err
	}
	var rec []byte
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if rec, err = raw.(*row).appendProto(rec[:0]); err != nil {
			return err
		}
		var lenBuf [binary.MaxVarintLen64]byte
		if _, err := bw.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(rec)))); err != nil {
			return err
		}
		if _, err := bw.Write(rec); err != nil {
			return err
		}
	}
	return bw.WriteByte(0)
}

// writeRecords writes each message as a length-prefixed record, then a zero
// length.
func writeRecords(bw *bufio.Writer, msgs []proto.Message) error {
	for _, m := range msgs {
		if err := writeRecord(bw, m); err != nil {
			return err
		}
	}
	return bw.WriteByte(0)
}

func writeRecord(bw *bufio.Writer, m proto.Message) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
	if _, err := bw.Write(lenBuf[:n]); err != nil {
		return err
	}
	_, err = bw.Write(b)
	return err
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
	version := binary.BigEndian.Uint32(hdr[len(snapshotMagic):])
	if version < 1 || version > snapshotVersion {
		return fmt.Errorf("%w: format version %d, this build reads 1 to %d", ErrBadSnapshot, version, snapshotVersion)
	}
	applied := binary.BigEndian.Uint64(hdr[len(snapshotMagic)+4:])

	db := newDB()
	requests := newRequestLog()
	tx := db.Txn(true)
	err := restoreObjects(br, tx)
	if err == nil && version >= 2 {
		err = readRecords(br, func(b []byte) error {
			p := &kmsdpb.AppliedRequest{}
			if err := proto.Unmarshal(b, p); err != nil {
				return err
			}
			if len(p.GetRequestId()) == 0 {
				return errors.New("request without id")
			}
			r := requestFromProto(p)
			if requests.byID[r.ID] != nil {
				return fmt.Errorf("request id %x appears twice", p.GetRequestId())
			}
			requests.restore(r)
			return nil
		})
		requests.sorted()
	}
	if err == nil && version >= 3 {
		err = readRecords(br, func(b []byte) error {
			p := &kmsdpb.ControlRecord{}
			if err := proto.Unmarshal(b, p); err != nil {
				return err
			}
			return restoreControl(tx, p)
		})
		if err == nil {
			err = checkRestoredPolicy(tx)
		}
	}
	if err == nil {
		if _, perr := br.ReadByte(); perr != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		tx.Abort()
		return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	tx.Commit()

	f.mu.Lock()
	f.db = db
	f.requests = requests
	f.applied = applied
	f.revoked.reset(db)
	f.mu.Unlock()
	return nil
}

// restoreBatch is how many decoded objects restoreObjects hands over at a
// time.
const restoreBatch = 256

// errRestoreStopped ends the decoding of a restore that failed.
var errRestoreStopped = errors.New("restore stopped")

// restoreObjects reads the objects section of a snapshot into tx. One
// goroutine decodes the records into rows while this one inserts them, so
// a restart uses two cores: decoding and index insertion cost about the
// same.
func restoreObjects(br *bufio.Reader, tx *memdb.Txn) error {
	type batch struct {
		rows []*row
		err  error
	}
	ch := make(chan batch, 4)
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		send := func(b batch) error {
			select {
			case ch <- b:
				return nil
			case <-stop:
				return errRestoreStopped
			}
		}
		rows := make([]*row, 0, restoreBatch)
		err := readRecords(br, func(b []byte) error {
			p := &kmsdpb.StoredObject{}
			if err := proto.Unmarshal(b, p); err != nil {
				return err
			}
			o, err := ObjectFromProto(p)
			if err != nil {
				return err
			}
			if rows = append(rows, newRow(o)); len(rows) == restoreBatch {
				err = send(batch{rows: rows})
				rows = make([]*row, 0, restoreBatch)
			}
			return err
		})
		if err == nil && len(rows) > 0 {
			err = send(batch{rows: rows})
		}
		if err != nil && err != errRestoreStopped {
			_ = send(batch{err: err})
		}
	}()
	var err error
	usage := usageCounter{}
	for b := range ch {
		if err != nil {
			continue // drain, so that the decoder has stopped reading br
		}
		if err = b.err; err != nil {
			close(stop)
			continue
		}
		for _, r := range b.rows {
			if hasObject(tx, r.ID) {
				err = fmt.Errorf("object %q appears twice", r.ID)
			} else if ierr := tx.Insert(tableObjects, r); ierr != nil {
				err = fmt.Errorf("object %q: %v", r.ID, ierr)
			}
			if err != nil {
				close(stop)
				break
			}
			usage.add(r)
		}
	}
	if err != nil {
		return err
	}
	// Usage is not in snapshots: it is the sum over the rows.
	return usage.insert(tx)
}

// readRecords calls fn for each length-prefixed record up to a zero length.
func readRecords(br *bufio.Reader, fn func([]byte) error) error {
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("record length: %v", err)
		}
		if n == 0 {
			return nil
		}
		if n > maxRecord {
			return fmt.Errorf("record of %d bytes", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("record: %v", err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
}

// Digest returns a SHA-256 over every object in id order. Replicas that
// applied the same log have the same digest.
func (f *FSM) Digest() ([32]byte, error) {
	h := sha256.New()
	bw := bufio.NewWriter(h)
	if err := persistObjects(bw, f.readTxn()); err != nil {
		return [32]byte{}, err
	}
	if err := bw.Flush(); err != nil {
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

// ValidateSnapshot reports whether r holds a snapshot Restore accepts, by
// restoring it into a throwaway store.
func (f *FSM) ValidateSnapshot(r io.Reader) error {
	return New(Config{}).Restore(r)
}
