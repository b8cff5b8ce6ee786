package audit

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

func TestFileSinkRotation(t *testing.T) {
	keys := newFakeKeys()
	path := filepath.Join(t.TempDir(), "audit.log")
	f, head, err := OpenFile(FileConfig{Path: path, MaxSize: 2000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 0 {
		t.Fatalf("head of a new file: %+v", head)
	}
	l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{f}})
	for i := range 40 {
		if err := l.Record(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var files [][]string
	for _, p := range []string{path + ".3", path + ".2", path + ".1", path} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 2000 || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %d bytes, mode %04o", p, st.Size(), st.Mode().Perm())
		}
		files = append(files, readLines(t, p))
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Errorf("more than MaxFiles rotated files kept: %v", err)
	}
	rep := verify(t, keys, files...)
	if rep.Problem != nil || !rep.MidChain || rep.LastSeq != 40 {
		t.Fatalf("rotated files oldest first: %+v %+v", rep, rep.Problem)
	}
	// The newest file alone verifies from its first line.
	if rep := verify(t, keys, files[3]); rep.Problem != nil || rep.FirstSeq == 1 {
		t.Fatalf("newest file alone: %+v %+v", rep, rep.Problem)
	}
}

// TestFileSinkResumesChain: a restarted node continues the chain from the
// last line of its file, or of the rotated file when the current one is
// empty.
func TestFileSinkResumesChain(t *testing.T) {
	keys := newFakeKeys()
	path := filepath.Join(t.TempDir(), "audit.log")
	write := func(from, n int) {
		f, head, err := OpenFile(FileConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{f}, Head: head})
		for i := range n {
			if err := l.Record(record(from + i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 3)
	write(3, 2)
	rep := verify(t, keys, readLines(t, path))
	if rep.Problem != nil || rep.LastSeq != 5 {
		t.Fatalf("resumed chain: %+v %+v", rep, rep.Problem)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	write(5, 1)
	rep = verify(t, keys, readLines(t, path+".1"), readLines(t, path))
	if rep.Problem != nil || rep.LastSeq != 6 {
		t.Fatalf("resumed from the rotated file: %+v %+v", rep, rep.Problem)
	}
}

// TestFileSinkTornTail: a last line cut short (a crash) stays, reported as
// truncated; the next line starts a new chain on a line of its own.
func TestFileSinkTornTail(t *testing.T) {
	keys := newFakeKeys()
	path := filepath.Join(t.TempDir(), "audit.log")
	lines := writeLog(t, keys, 3)
	torn := strings.Join(lines, "") + lines[0][:20]
	if err := os.WriteFile(path, []byte(torn), 0o600); err != nil {
		t.Fatal(err)
	}
	f, head, err := OpenFile(FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 0 {
		t.Fatalf("head after a torn line: %+v", head)
	}
	l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{f}, Head: head})
	if err := l.Record(record(9)); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	got := readLines(t, path)
	if len(got) != 5 || !strings.HasPrefix(got[4], `{"seq":1,`) {
		t.Fatalf("lines after the torn one: %q", got)
	}
	rep := verify(t, keys, got)
	if rep.Problem == nil || rep.Problem.Line != 4 || rep.Problem.Kind != KindTruncated {
		t.Fatalf("torn line: %+v", rep.Problem)
	}
}

// TestFileSinkRecovers: a file that cannot be written (its folder gone)
// fails, and writes again once it can be created.
func TestFileSinkRecovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "audit.log")
	f, _, err := OpenFile(FileConfig{Path: path, MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]byte("b\n")); err == nil {
		t.Fatal("rotation into a removed folder succeeded")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]byte("c\n")); err != nil {
		t.Fatalf("write after the folder is back: %v", err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0] != "c\n" {
		t.Fatalf("file holds %q", got)
	}
	if _, _, err := OpenFile(FileConfig{}); err == nil {
		t.Fatal("OpenFile without a path succeeded")
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	l := New(Config{Node: "n", Sinks: []Sink{NewWriterSink(&buf)}})
	_ = l.Record(record(1))
	_ = l.Record(record(2))
	if rep := verify(t, nil, strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")); rep.Problem != nil || rep.Lines != 2 {
		t.Fatalf("stdout lines: %+v %+v", rep, rep.Problem)
	}
}

// TestSyslogSink sends lines to a fake syslog daemon on a unixgram socket.
func TestSyslogSink(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	network, addr, err := ParseSyslogTarget("unixgram:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	s, err := DialSyslog(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	keys := newFakeKeys()
	l := New(Config{Node: "n", Keys: keys, Sinks: []Sink{s}})
	if err := l.Record(record(1)); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	buf := make([]byte, 64<<10)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	// <priority>: facility auth (4) * 8 + severity info (6) = 38.
	if !strings.HasPrefix(msg, "<38>") || !strings.Contains(msg, SyslogTag+"[") {
		t.Fatalf("syslog message %q", msg)
	}
	i := strings.Index(msg, `{"seq":1,`)
	if i < 0 {
		t.Fatalf("no line in %q", msg)
	}
	if rep := verify(t, keys, []string{strings.TrimSuffix(msg[i:], "\n")}); rep.Problem != nil {
		t.Fatalf("line sent to syslog does not verify: %+v", rep.Problem)
	}
}

func TestParseSyslogTarget(t *testing.T) {
	for _, tt := range []struct {
		in, network, addr string
		ok                bool
	}{
		{"local", "", "", true},
		{"unixgram:/dev/log", "unixgram", "/dev/log", true},
		{"udp:logs:514", "udp", "logs:514", true},
		{"tcp:logs:601", "tcp", "logs:601", true},
		{"udp:", "", "", false},
		{"/dev/log", "", "", false},
		{"http:x", "", "", false},
	} {
		n, a, err := ParseSyslogTarget(tt.in)
		if (err == nil) != tt.ok || n != tt.network || a != tt.addr {
			t.Errorf("ParseSyslogTarget(%q) = %q, %q, %v", tt.in, n, a, err)
		}
	}
}
