package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/e2e/harness"
)

// Versions are the vector directories, in order.
var Versions = []string{"v1.0", "v1.1", "v1.2", "v1.3", "v1.4"}

// VectorsDir returns kmiptest/testdata of the github.com/ovh/kmip-go module
// this repository requires, as `go list -m` reports it from the repository
// root. The vectors are read in place, never copied.
func VectorsDir() (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ovh/kmip-go")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("conformance: go list -m github.com/ovh/kmip-go: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "kmiptest", "testdata")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("conformance: vectors: %w", err)
	}
	return dir, nil
}

// List returns the vector names ("v1.0/FILE.xml") of the given versions
// under dir, sorted by version then file name.
func List(dir string, versions ...string) ([]string, error) {
	var names []string
	for _, v := range versions {
		entries, err := os.ReadDir(filepath.Join(dir, v))
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		var files []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".xml") {
				files = append(files, v+"/"+e.Name())
			}
		}
		sort.Strings(files)
		names = append(names, files...)
	}
	return names, nil
}

// chained matches the vectors that continue the one before them in List
// order: the third parts of the storage array and tape library profile
// tests (KMIP 1.4 Profiles §5.6, §5.7) retrieve what the second part
// registered.
var chained = regexp.MustCompile(`^v1\.\d/(SASED|TL)[-_]M[-_]3[-_]`)

// ContinuesPrevious reports whether the vector name relies on the objects
// left by the vector just before it, so that no cleanup may run in between.
func ContinuesPrevious(name string) bool { return chained.MatchString(name) }

// Result is the outcome of one vector.
type Result struct {
	Name   string
	Pass   bool
	Reason string // the first difference or error; empty when Pass
	Diffs  []Diff // every difference, for verbose output
	Steps  int    // steps run
}

// Runner replays vectors against a server, one at a time.
type Runner struct {
	Dir  string                                      // from VectorsDir
	Dial func(ctx context.Context) (net.Conn, error) // one mutual-TLS connection per vector

	StepTimeout time.Duration // per request/response; default 10s
	Tolerance   time.Duration // for $NOW dates; default DefaultTolerance
	MaxResponse int           // bytes; default 16 MiB

	last *Session // of the previous vector, for ContinuesPrevious
}

// Run parses and replays the vector name ("v1.0/FILE.xml"). A vector fails
// with reason "parse: ..." when its file cannot be parsed.
func (r *Runner) Run(ctx context.Context, name string) Result {
	res := Result{Name: name}
	vec, err := ParseFile(r.Dir, name, time.Now())
	if err != nil {
		res.Reason = "parse: " + strings.TrimPrefix(err.Error(), ErrParse.Error()+": ")
		return res
	}
	conn, err := r.Dial(ctx)
	if err != nil {
		res.Reason = "dial: " + err.Error()
		return res
	}
	defer func() { _ = conn.Close() }()

	s := NewSession()
	s.Recorded(vec.Steps)
	if r.Tolerance > 0 {
		s.Tolerance = r.Tolerance
	}
	if r.last != nil && ContinuesPrevious(name) {
		// Objects the previous part had the server generate are still
		// random when this part reads them.
		maps.Copy(s.created, r.last.created)
	}
	r.last = s
	for i, step := range vec.Steps {
		res.Steps = i + 1
		diffs, err := r.step(ctx, conn, s, i, step)
		res.Diffs = append(res.Diffs, diffs...)
		if err != nil {
			res.Diffs = append(res.Diffs, Diff{Step: i, Msg: err.Error()})
			break
		}
	}
	if len(res.Diffs) == 0 {
		res.Pass = true
	} else {
		res.Reason = res.Diffs[0].String()
	}
	return res
}

// step sends one request and checks its response. An error means the vector
// cannot go on (unbound variable, broken connection, undecodable response).
func (r *Runner) step(ctx context.Context, conn net.Conn, s *Session, i int, step Step) ([]Diff, error) {
	req, err := s.Substitute(step.Request)
	if err != nil {
		return nil, err
	}
	raw, err := encode(req)
	if err != nil {
		return nil, err
	}
	timeout := r.StepTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	respRaw, err := Roundtrip(conn, raw, r.MaxResponse)
	if err != nil {
		return nil, fmt.Errorf("i/o: %w", err)
	}
	got, err := Decode(respRaw)
	if err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return s.Check(i, req, step.Response, got), nil
}

func encode(v ttlv.Value) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encode request: %v", p)
		}
	}()
	return ttlv.MarshalTTLV(v), nil
}

// Roundtrip writes one binary TTLV message and reads one back: the 8-byte
// tag/type/length header, then length bytes. limit bounds the length
// (default 16 MiB).
func Roundtrip(conn io.ReadWriter, req []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = 16 << 20
	}
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if int64(n) > int64(limit) {
		return nil, fmt.Errorf("response of %d bytes exceeds %d", n, limit)
	}
	msg := make([]byte, 8+int(n))
	copy(msg, hdr)
	if _, err := io.ReadFull(conn, msg[8:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// Decode decodes a binary TTLV message into a generic tree. The kmip-go
// decoder panics on some malformed primitives; that is reported as an error.
func Decode(b []byte) (v ttlv.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	d, err := ttlv.NewTTLVDecoder(b)
	if err != nil {
		return v, err
	}
	err = v.DecodeTTLV(&d)
	return v, err
}
