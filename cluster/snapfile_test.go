package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func macWith(key string) hash.Hash { return hmac.New(sha256.New, []byte(key)) }

func testHeader() SnapshotHeader {
	return SnapshotHeader{Format: snapFileFormat, ClusterID: strings.Repeat("ab", 16), Index: 1234, Term: 7,
		KeyVersions: []uint32{1, 2, 5}, Created: time.Unix(1700000000, 123).UTC()}
}

func writeTestFile(t *testing.T, hdr SnapshotHeader, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := writeSnapshotFile(&buf, macWith("test key"), hdr, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	hdr := testHeader()
	body := bytes.Repeat([]byte("state "), 50000)
	file := writeTestFile(t, hdr, body)

	f, err := parseSnapshotFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.hdr, hdr) {
		t.Errorf("header = %+v, want %+v", f.hdr, hdr)
	}
	if err := f.verify(macWith("test key")); err != nil {
		t.Fatalf("verify: %v", err)
	}
	got, _ := io.ReadAll(f.body())
	if !bytes.Equal(got, body) {
		t.Errorf("body: %d bytes, want %d", len(got), len(body))
	}
	if err := f.verify(macWith("another key")); !errors.Is(err, ErrTamperedSnapshot) {
		t.Errorf("verify under another key = %v, want ErrTamperedSnapshot", err)
	}
	if h, err := ReadSnapshotHeader(bytes.NewReader(file[:f.bodyOff])); err != nil || !reflect.DeepEqual(h, hdr) {
		t.Errorf("ReadSnapshotHeader of the header alone = %+v, %v", h, err)
	}
}

func TestSnapshotHeaderLimits(t *testing.T) {
	for _, hdr := range []SnapshotHeader{
		{ClusterID: ""},
		{ClusterID: strings.Repeat("a", maxClusterIDLen+1)},
		{ClusterID: "bad id"},
		{ClusterID: "ok", KeyVersions: make([]uint32, maxKeyVersions+1)},
	} {
		if _, err := hdr.encode(); err == nil {
			t.Errorf("encode(%q, %d versions) succeeded", hdr.ClusterID, len(hdr.KeyVersions))
		}
	}
	most := SnapshotHeader{Format: snapFileFormat, ClusterID: strings.Repeat("a", maxClusterIDLen), KeyVersions: make([]uint32, maxKeyVersions)}
	b, err := most.encode()
	if err != nil || len(b) != MaxSnapshotHeaderSize {
		t.Errorf("the largest header: %d bytes, %v; want %d", len(b), err, MaxSnapshotHeaderSize)
	}
	if _, err := ReadSnapshotHeader(bytes.NewReader(b)); err != nil {
		t.Errorf("the largest header does not read back: %v", err)
	}
	// Every prefix of a header is refused as not parsing.
	b, _ = testHeader().encode()
	for n := range len(b) {
		if _, err := ReadSnapshotHeader(bytes.NewReader(b[:n])); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("header cut to %d bytes: %v, want ErrBadSnapshot", n, err)
		}
	}
}

// FuzzReadSnapshotHeader: no input makes the header reader panic, read
// past MaxSnapshotHeaderSize, or fail with anything but a refusal.
func FuzzReadSnapshotHeader(f *testing.F) {
	b, _ := testHeader().encode()
	f.Add(b)
	f.Add([]byte(bareSnapMagic))
	f.Add([]byte(snapFileMagic + "\x00\x00\x00\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReader{r: bytes.NewReader(data)}
		_, err := ReadSnapshotHeader(r)
		if r.n > MaxSnapshotHeaderSize {
			t.Fatalf("read %d bytes", r.n)
		}
		var refusal *SnapshotRefusal
		if err != nil && !errors.As(err, &refusal) {
			t.Fatalf("error %v is not a refusal", err)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
