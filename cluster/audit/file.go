package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// File rotation defaults.
const (
	DefaultMaxFileSize int64 = 100 << 20
	DefaultMaxFiles          = 10
)

// FileConfig configures a FileSink.
type FileConfig struct {
	Path string
	// MaxSize is the size past which the file is rotated before the next
	// line; default 100 MiB.
	MaxSize int64
	// MaxFiles is how many rotated files (Path.1 the newest, Path.N the
	// oldest) are kept; default 10.
	MaxFiles int
}

// FileSink appends lines to a file (mode 0600) and rotates it by size:
// Path becomes Path.1, Path.1 becomes Path.2, and so on; the oldest beyond
// MaxFiles is removed. The chain goes on across files: verify the files
// oldest first (Path.N … Path.1 Path). A line is one write(2) on a file
// opened for appending; lines are not synced to disk one by one.
type FileSink struct {
	cfg FileConfig

	mu   sync.Mutex
	f    *os.File // nil after a failed rotation or open: the next Write retries
	size int64
}

// OpenFile opens (or creates) the file and returns the sink and the head
// of the chain the files hold: the last complete line of Path, or of
// Path.1 when Path is empty. A head that cannot be read (no file, a last
// line cut short by a crash) is the zero Head: the log starts a new chain,
// which verify reports.
func OpenFile(cfg FileConfig) (*FileSink, Head, error) {
	if cfg.Path == "" {
		return nil, Head{}, errors.New("audit: the audit file needs a path")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxFileSize
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	s := &FileSink{cfg: cfg}
	if err := s.open(); err != nil {
		return nil, Head{}, err
	}
	head, torn := lastHead(cfg.Path)
	if torn {
		// A line cut short stays where it is (verify reports it); the
		// next one starts on a line of its own.
		if _, err := s.f.Write([]byte("\n")); err != nil {
			s.f.Close()
			return nil, Head{}, fmt.Errorf("audit: %w", err)
		}
		s.size++
	}
	if head.Seq == 0 && s.size == 0 {
		head, _ = lastHead(s.rotated(1))
	}
	return s, head, nil
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	s.f, s.size = f, st.Size()
	return nil
}

func (s *FileSink) rotated(n int) string { return s.cfg.Path + "." + strconv.Itoa(n) }

// Write implements Sink.
func (s *FileSink) Write(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil && s.size > 0 && s.size+int64(len(line)) > s.cfg.MaxSize {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(line)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// rotate closes the file and shifts the rotated ones; s.mu is held. The
// next Write opens a new file.
func (s *FileSink) rotate() error {
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := os.Remove(s.rotated(s.cfg.MaxFiles)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: %w", err)
	}
	for n := s.cfg.MaxFiles - 1; n >= 1; n-- {
		if err := os.Rename(s.rotated(n), s.rotated(n+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: %w", err)
		}
	}
	if err := os.Rename(s.cfg.Path, s.rotated(1)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Close implements Sink.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// lastHead reads the last line of path. torn reports a last line without
// its newline.
func lastHead(path string) (h Head, torn bool) {
	f, err := os.Open(path)
	if err != nil {
		return Head{}, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return Head{}, false
	}
	n := min(st.Size(), int64(MaxLineSize+2))
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, st.Size()-n); err != nil && !errors.Is(err, io.EOF) {
		return Head{}, false
	}
	if buf[len(buf)-1] != '\n' {
		return Head{}, true
	}
	buf = buf[:len(buf)-1]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	} else if n < st.Size() {
		return Head{}, false // longer than any line this package writes
	}
	p, err := parseLine(buf)
	if err != nil {
		return Head{}, false
	}
	return Head{Seq: p.Seq, MAC: p.mac}, false
}
