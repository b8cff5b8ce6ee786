package audit

import (
	"bytes"
	"errors"
	"fmt"
)

// DefaultMaxLines bounds the lines one Stream verifies unless told
// otherwise.
const DefaultMaxLines = 20_000_000

// ErrTooManyLines stops a Stream that was given more lines than it takes.
var ErrTooManyLines = errors.New("audit: too many lines to verify in one call")

// Stream splits the bytes of one or more files into lines for a Verifier,
// bounding line length (MaxLineSize) and count. A file's last line needs
// no newline.
type Stream struct {
	v        *Verifier
	maxLines int64
	file     string
	line     int64 // lines of the current file so far
	buf      []byte
	skipping bool // inside a line longer than MaxLineSize
}

// NewStream returns a Stream over a Verifier of keys that takes at most
// maxLines lines (DefaultMaxLines when not positive).
func NewStream(keys MACer, maxLines int64) *Stream {
	if maxLines <= 0 {
		maxLines = DefaultMaxLines
	}
	return &Stream{v: NewVerifier(keys), maxLines: maxLines}
}

// StartFile ends the current file and starts the next one, named name.
func (s *Stream) StartFile(name string) error {
	if err := s.endFile(); err != nil {
		return err
	}
	s.file, s.line = name, 0
	return nil
}

// Write takes the next bytes of the current file.
func (s *Stream) Write(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !s.skipping {
			if len(s.buf)+len(chunk) > MaxLineSize {
				s.skipping, s.buf = true, s.buf[:0]
			} else {
				s.buf = append(s.buf, chunk...)
			}
		}
		if i < 0 {
			return nil
		}
		if err := s.emit(); err != nil {
			return err
		}
		p = p[i+1:]
	}
	return nil
}

// emit hands the line in the buffer to the verifier.
func (s *Stream) emit() error {
	if s.v.rep.Lines >= s.maxLines {
		return fmt.Errorf("%w (at most %d)", ErrTooManyLines, s.maxLines)
	}
	s.line++
	pos := Position{File: s.file, Line: s.line}
	if s.skipping {
		s.v.Reject(pos, fmt.Sprintf("the line is longer than %d bytes", MaxLineSize))
	} else {
		s.v.Line(pos, s.buf)
	}
	s.buf, s.skipping = s.buf[:0], false
	return nil
}

func (s *Stream) endFile() error {
	if len(s.buf) > 0 || s.skipping {
		return s.emit()
	}
	return nil
}

// Finish ends the last file and returns the report.
func (s *Stream) Finish() (Report, error) {
	if err := s.endFile(); err != nil {
		return Report{}, err
	}
	return s.v.Report(), nil
}
