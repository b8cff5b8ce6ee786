package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kmsd/kmsd/admin/admintest"
	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/seal"
)

// auditKeys is the replicated keyring with one data key, in memory.
type auditKeys struct {
	mu  sync.Mutex
	key []byte
}

func (k *auditKeys) DataKey(v uint32) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.key, v == 1 && k.key != nil
}

func (k *auditKeys) LatestDataKey() (uint32, []byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return 1, k.key, k.key != nil
}

// auditEnv is an admin API that verifies audit logs under a barrier, and
// a log of 8 lines that barrier wrote in two files: audit.log.1 (the
// older, 5 lines) and audit.log.
type auditEnv struct {
	*adminEnv
	dir, older, newer string
}

func startAuditAdmin(t *testing.T) *auditEnv {
	t.Helper()
	clearAdminEnv(t)
	src := &auditKeys{}
	b := seal.NewBarrier(src)
	if _, err := b.Init(t.TempDir(), seal.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	k, err := b.NewDataKey(1)
	if err != nil {
		t.Fatal(err)
	}
	src.key = k

	e := &auditEnv{adminEnv: &adminEnv{fake: admintest.NewFakeCluster(), devDir: t.TempDir()}, dir: t.TempDir()}
	e.addr = serveAdminWith(t, e.devDir, e.fake, admintest.Options{AuditKeys: b})
	e.conn = []string{"--admin", e.addr, "--dev-dir", e.devDir}
	e.older, e.newer = filepath.Join(e.dir, "audit.log.1"), filepath.Join(e.dir, "audit.log")

	f, _, err := audit.OpenFile(audit.FileConfig{Path: e.newer})
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(audit.Config{Node: "node-1", Keys: b, Sinks: []audit.Sink{f}})
	for i := range 8 {
		if i == 5 {
			// Rotate by hand: the first five lines become the older file.
			_ = l.Close()
			if err := os.Rename(e.newer, e.older); err != nil {
				t.Fatal(err)
			}
			f, head, err := audit.OpenFile(audit.FileConfig{Path: e.newer})
			if err != nil {
				t.Fatal(err)
			}
			l = audit.New(audit.Config{Node: "node-1", Keys: b, Sinks: []audit.Sink{f}, Head: head})
		}
		if err := l.Record(audit.Record{Identity: "app", Operation: "Get", Objects: []string{"obj"}, Success: true, RequestID: "r", Item: 0}); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	return e
}

func TestAuditVerify(t *testing.T) {
	e := startAuditAdmin(t)
	out := ok(t, e.conn, "audit", "verify", e.older, e.newer)
	for _, want := range []string{"lines:        8", "first line:   " + e.older + ":1 (seq 1, the start of the chain)",
		"last seq:     8", "key versions: 1", "result:       ok"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out = ok(t, e.conn, "audit", "verify", e.newer)
	if !strings.Contains(out, e.newer+":1 (seq 6: the chain starts earlier") || !strings.Contains(out, "result:       ok") {
		t.Errorf("newer file alone:\n%s", out)
	}

	out = ok(t, e.conn, "-o", "json", "audit", "verify", e.older, e.newer)
	var r auditResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Lines != 8 || r.FirstSeq != 1 || r.LastSeq != 8 || r.Problem != nil || len(r.Files) != 2 {
		t.Errorf("json: %+v", r)
	}
}

func TestAuditVerifyTampered(t *testing.T) {
	e := startAuditAdmin(t)
	b, err := os.ReadFile(e.newer)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	edited := filepath.Join(e.dir, "edited.log")
	tampered := lines[0] + strings.Replace(lines[1], `"identity":"app"`, `"identity":"bad"`, 1) + lines[2]
	if err := os.WriteFile(edited, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := kmsctl(t, append(e.conn, "audit", "verify", e.older, edited)...)
	if code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "result:        BAD at "+edited+":2 (seq 7): modified: ") || !strings.Contains(out, "last good seq: 6\n") {
		t.Errorf("output:\n%s", out)
	}
	// Files in the wrong order.
	out, _, code = kmsctl(t, append(e.conn, "-o", "json", "audit", "verify", e.newer, e.older)...)
	var r auditResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if code != 1 || r.OK || r.Problem == nil || r.Problem.File != e.older || r.Problem.Line != 1 || r.Problem.Kind != "restarted" {
		t.Errorf("wrong order: exit %d, %+v", code, r.Problem)
	}
	fails(t, e.conn, "cannot read audit log", "audit", "verify", filepath.Join(e.dir, "missing"))
}
