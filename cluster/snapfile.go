package cluster

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// A snapshot file is what the admin API exports: the state machine's
// snapshot behind a header, authenticated by an HMAC-SHA256 under a key the
// barrier derives from the root key and the cluster id (cluster/DESIGN.md
// has the layout). It is written in one pass: header, then the body through
// the MAC, then the trailer.
const (
	snapFileMagic  = "KMSDSNPF"
	snapFileFormat = 1
	// bareSnapMagic starts a state machine snapshot without a header, as
	// kmsctl saved them before snapshot files.
	bareSnapMagic = "KMSDSNAP"

	snapPrefixLen  = len(snapFileMagic) + 4 + 4 // magic, format, header length
	snapTrailerLen = 8 + sha256.Size            // body length, MAC

	maxClusterIDLen = 64
	maxKeyVersions  = 4096
	// maxSnapHeaderLen bounds the header fields after the prefix.
	maxSnapHeaderLen = 1 + maxClusterIDLen + 3*8 + 4 + 4*maxKeyVersions
)

// MaxSnapshotHeaderSize is the most bytes ReadSnapshotHeader reads.
const MaxSnapshotHeaderSize = snapPrefixLen + maxSnapHeaderLen

// SnapshotHeader is what a snapshot file says about the state it holds.
type SnapshotHeader struct {
	Format    uint32
	ClusterID string
	// Index is the state machine's applied index when the snapshot was
	// taken, and Term the term of that log entry (0 when the node's log
	// no longer held it).
	Index, Term uint64
	// KeyVersions are the keyring's data key versions, oldest first.
	KeyVersions []uint32
	Created     time.Time
}

// encode returns the prefix and header fields.
func (h SnapshotHeader) encode() ([]byte, error) {
	if !validSnapClusterID(h.ClusterID) {
		return nil, fmt.Errorf("cluster: snapshot header: cluster id %q", h.ClusterID)
	}
	if len(h.KeyVersions) > maxKeyVersions {
		return nil, fmt.Errorf("cluster: snapshot header: %d key versions, at most %d fit", len(h.KeyVersions), maxKeyVersions)
	}
	fields := make([]byte, 0, 1+len(h.ClusterID)+3*8+4+4*len(h.KeyVersions))
	fields = append(fields, byte(len(h.ClusterID)))
	fields = append(fields, h.ClusterID...)
	fields = binary.BigEndian.AppendUint64(fields, h.Index)
	fields = binary.BigEndian.AppendUint64(fields, h.Term)
	fields = binary.BigEndian.AppendUint64(fields, uint64(h.Created.UnixNano()))
	fields = binary.BigEndian.AppendUint32(fields, uint32(len(h.KeyVersions)))
	for _, v := range h.KeyVersions {
		fields = binary.BigEndian.AppendUint32(fields, v)
	}
	b := make([]byte, 0, snapPrefixLen+len(fields))
	b = append(b, snapFileMagic...)
	b = binary.BigEndian.AppendUint32(b, h.Format)
	b = binary.BigEndian.AppendUint32(b, uint32(len(fields)))
	return append(b, fields...), nil
}

// validSnapClusterID accepts 1 to 64 characters of [0-9a-zA-Z-]: every id
// the barrier makes, and nothing that would need escaping in a message.
func validSnapClusterID(id string) bool {
	if id == "" || len(id) > maxClusterIDLen {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}

// writeSnapshotFile streams the file to w: hdr, what persist writes as the
// body, and the trailer. mac must be fresh; it sees every byte before the
// MAC itself.
func writeSnapshotFile(w io.Writer, mac hash.Hash, hdr SnapshotHeader, persist func(io.Writer) error) error {
	head, err := hdr.encode()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	hw := io.MultiWriter(bw, mac)
	if _, err := hw.Write(head); err != nil {
		return err
	}
	body := &countingWriter{w: hw}
	if err := persist(body); err != nil {
		return err
	}
	if _, err := hw.Write(binary.BigEndian.AppendUint64(nil, uint64(body.n))); err != nil {
		return err
	}
	if _, err := bw.Write(mac.Sum(nil)); err != nil {
		return err
	}
	return bw.Flush()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadSnapshotHeader reads the header at the start of a snapshot file
// without verifying anything: the MAC is at the end. It reads at most
// MaxSnapshotHeaderSize bytes. A header it cannot read is a
// *SnapshotRefusal wrapping ErrBadSnapshot.
func ReadSnapshotHeader(r io.Reader) (SnapshotHeader, error) {
	h, _, err := readSnapshotHeader(r)
	return h, err
}

// readSnapshotHeader also returns the header's length, the body's offset.
func readSnapshotHeader(r io.Reader) (SnapshotHeader, int64, error) {
	prefix := make([]byte, snapPrefixLen)
	n, err := io.ReadFull(r, prefix)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return SnapshotHeader{}, 0, err
	}
	prefix = prefix[:n]
	switch {
	case len(prefix) >= len(bareSnapMagic) && string(prefix[:len(bareSnapMagic)]) == bareSnapMagic:
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: this is a bare state machine snapshot without a header or MAC, "+
			"as kmsctl saved them before snapshot files; it cannot be verified, so it is not restored: take a new snapshot with kmsctl snapshot save")
	case len(prefix) < len(snapFileMagic) || string(prefix[:len(snapFileMagic)]) != snapFileMagic:
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: not a kmsd snapshot file (it does not start with %q)", snapFileMagic)
	case len(prefix) < snapPrefixLen:
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: the file ends inside its header: it is truncated; use a complete copy")
	}
	h := SnapshotHeader{Format: binary.BigEndian.Uint32(prefix[len(snapFileMagic):])}
	if h.Format != snapFileFormat {
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: the file has format %d and this kmsd reads format %d; restore it with the kmsd release that wrote it",
			h.Format, snapFileFormat)
	}
	size := binary.BigEndian.Uint32(prefix[len(snapFileMagic)+4:])
	if size > maxSnapHeaderLen {
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: the header claims %d bytes, more than the %d a header can have; the file is damaged",
			size, maxSnapHeaderLen)
	}
	fields := make([]byte, size)
	if _, err := io.ReadFull(r, fields); err == io.EOF || err == io.ErrUnexpectedEOF {
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: the file ends inside its header: it is truncated; use a complete copy")
	} else if err != nil {
		return SnapshotHeader{}, 0, err
	}
	if err := h.decodeFields(fields); err != nil {
		return SnapshotHeader{}, 0, refuse(ErrBadSnapshot, "snapshot rejected: the header is malformed (%v); the file is damaged", err)
	}
	return h, int64(snapPrefixLen) + int64(size), nil
}

// decodeFields reads the header fields; they must fill b exactly.
func (h *SnapshotHeader) decodeFields(b []byte) error {
	if len(b) < 1 {
		return errors.New("no cluster id")
	}
	idLen := int(b[0])
	b = b[1:]
	if idLen > len(b) {
		return errors.New("cluster id past the header's end")
	}
	h.ClusterID, b = string(b[:idLen]), b[idLen:]
	if !validSnapClusterID(h.ClusterID) {
		return errors.New("invalid cluster id")
	}
	if len(b) < 3*8+4 {
		return errors.New("index, term, time or key version count missing")
	}
	h.Index = binary.BigEndian.Uint64(b)
	h.Term = binary.BigEndian.Uint64(b[8:])
	h.Created = time.Unix(0, int64(binary.BigEndian.Uint64(b[16:]))).UTC()
	count := binary.BigEndian.Uint32(b[24:])
	b = b[28:]
	if count > maxKeyVersions || int(count)*4 != len(b) {
		return fmt.Errorf("%d key versions in %d bytes", count, len(b))
	}
	h.KeyVersions = make([]uint32, count)
	for i := range h.KeyVersions {
		h.KeyVersions[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return nil
}

// snapshotFile is a parsed snapshot file of size bytes in r.
type snapshotFile struct {
	r       io.ReaderAt
	size    int64
	hdr     SnapshotHeader
	bodyOff int64
}

// parseSnapshotFile reads the header of the file in r.
func parseSnapshotFile(r io.ReaderAt, size int64) (*snapshotFile, error) {
	hdr, off, err := readSnapshotHeader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	return &snapshotFile{r: r, size: size, hdr: hdr, bodyOff: off}, nil
}

// body is the state machine snapshot; call it after verify.
func (f *snapshotFile) body() *io.SectionReader {
	return io.NewSectionReader(f.r, f.bodyOff, f.size-snapTrailerLen-f.bodyOff)
}

// verify checks that the trailer describes this file and that its MAC is
// mac's (a fresh hash keyed for this cluster) over everything before it.
func (f *snapshotFile) verify(mac hash.Hash) error {
	bodyLen := f.size - snapTrailerLen - f.bodyOff
	if bodyLen < 0 {
		return refuse(ErrTamperedSnapshot, "the snapshot file is truncated: it ends before its trailer; use a complete copy")
	}
	trailer := make([]byte, snapTrailerLen)
	if _, err := f.r.ReadAt(trailer, f.size-snapTrailerLen); err != nil {
		return err
	}
	if binary.BigEndian.Uint64(trailer) != uint64(bodyLen) {
		return refuse(ErrTamperedSnapshot, "the snapshot file is truncated or damaged: its length does not match its trailer; use a complete copy "+
			"(kmsctl snapshot save writes the whole file or none)")
	}
	if _, err := io.Copy(mac, io.NewSectionReader(f.r, 0, f.size-sha256.Size)); err != nil {
		return err
	}
	if !hmac.Equal(mac.Sum(nil), trailer[8:]) {
		return refuse(ErrTamperedSnapshot, "the snapshot file is damaged or was edited: its MAC does not verify under this cluster's root key; "+
			"use an intact copy (a snapshot taken before the root key was replaced does not verify any more)")
	}
	return nil
}
