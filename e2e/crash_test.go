package e2e_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/e2e/harness"
)

// ackedKey is what the server acknowledged about one key: that it exists,
// its material once a Get answered, and its Contact Information.
type ackedKey struct {
	digest  string // of the material (objectDigest)
	contact string
	// pending is a Contact Information whose Modify Attribute was sent but
	// not answered: after a crash the key may hold it or contact.
	pending string
}

// ledger records the keys whose Create was acknowledged, safe for
// concurrent writers.
type ledger struct {
	mu   sync.Mutex
	keys map[string]*ackedKey
	// acks counts acknowledged writes; grown is signalled at each.
	acks  int
	grown chan struct{}
}

func newLedger() *ledger {
	return &ledger{keys: map[string]*ackedKey{}, grown: make(chan struct{}, 1)}
}

// update changes what is known of key id; ack says whether it records an
// acknowledged write.
func (l *ledger) update(id string, ack bool, f func(k *ackedKey)) {
	l.mu.Lock()
	k := l.keys[id]
	if k == nil {
		k = &ackedKey{}
		l.keys[id] = k
	}
	f(k)
	if ack {
		l.acks++
	}
	l.mu.Unlock()
	select {
	case l.grown <- struct{}{}:
	default:
	}
}

func (l *ledger) count() (keys, acks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys), l.acks
}

// waitAcks waits until n more writes than now were acknowledged, or the
// writers report a failure on errs, or the timeout passes.
func (l *ledger) waitAcks(t *testing.T, n int, errs <-chan error) {
	t.Helper()
	_, start := l.count()
	timeout := time.After(60 * time.Second)
	for {
		if _, acks := l.count(); acks >= start+n {
			return
		}
		select {
		case <-l.grown:
		case err := <-errs:
			t.Fatalf("a writer failed while the node was up: %v", err)
		case <-timeout:
			_, acks := l.count()
			t.Fatalf("only %d of %d writes acknowledged within 60s", acks-start, n)
		}
	}
}

func (l *ledger) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.keys))
	for id := range l.keys {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// verify reads every acknowledged key through c: it must exist, with the
// acknowledged material and Contact Information (or the value of a Modify
// that was in flight). What it reads becomes the new acknowledged state.
func (l *ledger) verify(t *testing.T, c *kmipclient.Client, where string) {
	t.Helper()
	ctx := context.Background()
	bad := 0
	for _, id := range l.ids() {
		l.mu.Lock()
		want := *l.keys[id]
		l.mu.Unlock()
		if bad > 10 {
			t.Fatalf("%s: giving up after %d damaged keys", where, bad)
		}
		resp, err := c.Get(id).ExecContext(ctx)
		if err != nil {
			t.Errorf("%s: acknowledged key %s: Get: %v", where, id, err)
			bad++
			continue
		}
		digest := objectDigest(resp.Object)
		if want.digest != "" && digest != want.digest {
			t.Errorf("%s: key %s has other material than the one served before", where, id)
			bad++
		}
		got := contactOf(t, c, id)
		if got != want.contact && (want.pending == "" || got != want.pending) {
			t.Errorf("%s: key %s has Contact Information %q, want %q (acknowledged) or %q (in flight)", where, id, got, want.contact, want.pending)
			bad++
		}
		l.mu.Lock()
		k := l.keys[id]
		k.digest, k.contact, k.pending = digest, got, ""
		l.mu.Unlock()
	}
}

func contactOf(t *testing.T, c *kmipclient.Client, id string) string {
	t.Helper()
	resp, err := c.GetAttributes(id, kmip.AttributeNameContactInformation).ExecContext(context.Background())
	if err != nil {
		t.Errorf("Get Attributes of %s: %v", id, err)
		return ""
	}
	for _, a := range resp.Attribute {
		if a.AttributeName == kmip.AttributeNameContactInformation {
			s, _ := a.AttributeValue.(string)
			return s
		}
	}
	return ""
}

// dialAddr opens a KMIP client to addr with n's dev client identity; unlike
// Node.Client it may be called from any goroutine.
func dialAddr(ctx context.Context, n *harness.Node, addr string) (*kmipclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return kmipclient.DialContext(ctx, addr,
		kmipclient.WithRootCAFile(n.PKI.CA),
		kmipclient.WithClientCertFiles(n.PKI.ClientCert, n.PKI.ClientKey))
}

// writers runs clients that create keys and change their Contact
// Information, recording every acknowledged write in led.
type writers struct {
	tls     *tls.Config
	led     *ledger
	node    *harness.Node // for the client identity
	addrs   []string      // KMIP addresses, one per writer in turn
	expectF atomic.Bool   // failures are expected (a node is being killed)
	errs    chan error
	stop    chan struct{}
	wg      sync.WaitGroup
	seq     atomic.Int64
}

func startWriters(t *testing.T, led *ledger, node *harness.Node, n int, addrs ...string) *writers {
	t.Helper()
	w := &writers{tls: node.TLSConfig(t), led: led, node: node, addrs: addrs, errs: make(chan error, n), stop: make(chan struct{})}
	for i := range n {
		w.wg.Add(1)
		go w.run(addrs[i%len(addrs)])
	}
	return w
}

// halt stops the writers and waits for them.
func (w *writers) halt() {
	close(w.stop)
	w.wg.Wait()
}

func (w *writers) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// fail reports an error that is not explained by a kill in progress.
func (w *writers) fail(err error) {
	if w.expectF.Load() || w.stopped() {
		return
	}
	select {
	case w.errs <- err:
	default:
	}
}

// run writes on its own connection to addr, with this package's raw KMIP
// exchange: kmip-go's client re-sends a request after a lost connection
// (which would apply a write twice) and races closing its connection
// against sending on it.
func (w *writers) run(addr string) {
	defer w.wg.Done()
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for !w.stopped() {
		if conn == nil {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, w.tls)
			if err != nil {
				w.fail(fmt.Errorf("dial %s: %w", addr, err))
				pause(w.stop, 50*time.Millisecond)
				continue
			}
			conn = c
		}
		if err := w.oneKey(conn); err != nil {
			w.fail(err)
			conn.Close()
			conn = nil
		}
	}
}

// oneKey creates a key, reads it, and modifies its Contact Information
// a few times.
func (w *writers) oneKey(conn net.Conn) error {
	seq := w.seq.Add(1)
	do := func(what string, pl kmip.OperationPayload) (nemResult, error) {
		out, err := roundtripItem(conn, pl)
		if err == nil && !out.ok {
			err = errors.New(out.reason)
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", what, err)
		}
		return out, nil
	}
	create := createPayload("crash-" + strconv.FormatInt(seq, 10))
	create.TemplateAttribute.Attribute = append(create.TemplateAttribute.Attribute, contact("c0"))
	out, err := do("create", create)
	if err != nil {
		return err
	}
	id := out.id
	w.led.update(id, true, func(k *ackedKey) { k.contact = "c0" })
	if out, err = do("get "+id, getPayload(id)); err != nil {
		return err
	}
	w.led.update(id, true, func(k *ackedKey) { k.digest = out.digest })
	for v := 1; v <= 3 && !w.stopped(); v++ {
		value := "c" + strconv.Itoa(v)
		w.led.update(id, false, func(k *ackedKey) { k.pending = value })
		if _, err := do("modify "+id, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: contact(value)}); err != nil {
			return err
		}
		w.led.update(id, true, func(k *ackedKey) { k.contact, k.pending = value, "" })
	}
	return nil
}

// closeClient closes c, which may be nil. kmip-go's Close dereferences a
// nil connection when its last reconnect failed (the server was gone).
func closeClient(c *kmipclient.Client) {
	if c == nil {
		return
	}
	defer func() { _ = recover() }()
	_ = c.Close()
}

func pause(stop <-chan struct{}, d time.Duration) {
	select {
	case <-stop:
	case <-time.After(d):
	}
}

// crashRounds is KMSD_CRASH_ROUNDS, or def.
func crashRounds(t *testing.T, def int) int {
	s := os.Getenv("KMSD_CRASH_ROUNDS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("KMSD_CRASH_ROUNDS=%q: want a positive number", s)
	}
	return n
}

// TestCrashRecovery SIGKILLs a single node again and again while four
// clients create keys and modify their attributes; it snapshots every 64
// entries, so kills land before, during and after snapshots. After each
// restart every key whose Create was acknowledged must be served, with the
// material served before and the last acknowledged Contact Information (or
// the one of a Modify still in flight at the kill).
//
// It runs 8 rounds; KMSD_CRASH_ROUNDS=50 runs 50.
func TestCrashRecovery(t *testing.T) {
	rounds := crashRounds(t, 8)
	node := harness.StartDev(t, "", "--snapshot-threshold", "64", "--snapshot-interval", "100ms")
	led := newLedger()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		w := startWriters(t, led, node, 4, node.KMIPAddr)
		// Kill after a random number of acknowledged writes.
		led.waitAcks(t, 40+rng.IntN(120), w.errs)
		w.expectF.Store(true)
		node.Kill()
		w.halt()
		keys, acks := led.count()
		t.Logf("round %d: killed with %d keys, %d writes acknowledged", round+1, keys, acks)
		node.Restart(t)
		c := node.Client(t)
		led.verify(t, c, fmt.Sprintf("round %d", round+1))
		_ = c.Close()
		if t.Failed() {
			return
		}
	}
	snaps, _ := filepath.Glob(filepath.Join(node.Dir, "raft", "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Error("no snapshot was taken: the kills only tested replaying the log")
	}
}

// damage is a change to a stopped node's raft files, and what the node must
// do on the next start: recover every acknowledged key, or refuse to start
// with an error that contains names.
type damage struct {
	name    string
	apply   func(t *testing.T, raftDir string, snaps []string)
	recover bool   // must recover; else must refuse
	either  bool   // may do either (the damage may hit unused space)
	names   string // what the refusal must name
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, max(0, st.Size()-n)); err != nil {
		t.Fatal(err)
	}
}

func halve(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	truncateBy(t, path, st.Size()/2)
}

var damages = []damage{
	{name: "newest snapshot state.bin cut", recover: true,
		apply: func(t *testing.T, _ string, snaps []string) {
			truncateBy(t, filepath.Join(snaps[len(snaps)-1], "state.bin"), 100)
		}},
	{name: "newest snapshot meta.json cut", recover: true,
		apply: func(t *testing.T, _ string, snaps []string) {
			truncateBy(t, filepath.Join(snaps[len(snaps)-1], "meta.json"), 20)
		}},
	{name: "every snapshot state.bin cut", names: "snapshots",
		apply: func(t *testing.T, _ string, snaps []string) {
			for _, s := range snaps {
				truncateBy(t, filepath.Join(s, "state.bin"), 100)
			}
		}},
	{name: "raft.db last page cut", either: true, names: "raft.db",
		apply: func(t *testing.T, dir string, _ []string) { truncateBy(t, filepath.Join(dir, "raft.db"), 4096) }},
	{name: "raft.db cut in half", names: "raft.db",
		apply: func(t *testing.T, dir string, _ []string) { halve(t, filepath.Join(dir, "raft.db")) }},
	{name: "raft.db emptied", names: "raft.db",
		apply: func(t *testing.T, dir string, _ []string) { truncateBy(t, filepath.Join(dir, "raft.db"), 1<<40) }},
	{name: "raft.db removed", names: "raft.db",
		apply: func(t *testing.T, dir string, _ []string) {
			if err := os.Remove(filepath.Join(dir, "raft.db")); err != nil {
				t.Fatal(err)
			}
		}},
}

// TestCrashDamagedFiles damages the raft files of a killed node (cut
// snapshots, a cut, emptied or missing raft.db) and checks what the next
// start does: it serves every acknowledged key, or it exits with an error
// that names the damaged file. Starting without acknowledged keys, or
// hanging, fails. An emptied or missing raft.db used to start silently from
// the newest snapshot, without the keys created after it.
func TestCrashDamagedFiles(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			node := harness.StartDev(t, "", "--snapshot-threshold", "64", "--snapshot-interval", "100ms")
			led := newLedger()
			w := startWriters(t, led, node, 2, node.KMIPAddr)
			led.waitAcks(t, 200, w.errs)
			// The writers go on until two snapshots exist: the threshold
			// grows with the object count, so 200 keys may make only one.
			raftDir := filepath.Join(node.Dir, "raft")
			waitSnapshots(t, raftDir, 2)
			w.halt()
			// A few keys after the newest snapshot, in the log only.
			w = startWriters(t, led, node, 1, node.KMIPAddr)
			led.waitAcks(t, 10, w.errs)
			w.halt()
			c := node.Client(t)
			led.verify(t, c, "before the kill")
			_ = c.Close()
			node.Kill()
			snaps := snapshotDirs(t, raftDir)
			d.apply(t, raftDir, snaps)

			err := node.TryRestart(t)
			switch {
			case err == nil && (d.recover || d.either):
				c := node.Client(t)
				led.verify(t, c, "after the damage")
				_ = c.Close()
				t.Logf("recovered: %d keys served", len(led.ids()))
			case err == nil:
				c := node.Client(t)
				led.verify(t, c, "after the damage")
				_ = c.Close()
				t.Errorf("started on damaged files instead of refusing (it serves the acknowledged keys: %v)", !t.Failed())
			case !errors.Is(err, harness.ErrExited):
				t.Fatalf("neither recovered nor refused: %v", err)
			case d.recover:
				t.Fatalf("refused to start on damage it can recover from: %v", err)
			case !strings.Contains(lastLine(err), d.names):
				t.Errorf("refused to start, but its last line does not name %q: %v", d.names, err)
			default:
				t.Logf("refused to start: %s", lastLine(err))
			}
		})
	}
}

// lastLine is the last non-empty line of err's text: the process's final
// error message.
func lastLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	return lines[len(lines)-1]
}

func snapshotDirs(t *testing.T, raftDir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(raftDir, "snapshots", "*", "state.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, p := range m {
		dirs = append(dirs, filepath.Dir(p))
	}
	// Snapshot folders are named term-index-time: sort by index.
	slices.SortFunc(dirs, func(a, b string) int { return snapshotIndex(a) - snapshotIndex(b) })
	return dirs
}

func snapshotIndex(dir string) int {
	parts := strings.Split(filepath.Base(dir), "-")
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

func waitSnapshots(t *testing.T, raftDir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if dirs := snapshotDirs(t, raftDir); len(dirs) >= n {
			return dirs
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d raft snapshots after 30s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrashRecoveryCluster SIGKILLs a node of three each round, the leader
// every other round and a random follower otherwise, while clients write
// through the two survivors. After the restart the replicas must agree
// (store digests) and the restarted node must serve every acknowledged key.
//
// It runs 4 rounds; KMSD_CRASH_ROUNDS sets the number, as for
// TestCrashRecovery.
func TestCrashRecoveryCluster(t *testing.T) {
	rounds := max(1, crashRounds(t, 8)/2)
	c := harness.StartCluster(t, 3, harness.JoinAtStart(),
		harness.WithArgs("--snapshot-threshold", "64", "--snapshot-interval", "100ms"))
	led := newLedger()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	for round := range rounds {
		leader := c.Leader(t)
		victim := leader
		if round%2 == 1 {
			f := c.Followers(leader)
			victim = f[rng.IntN(len(f))]
		}
		var survivors []string
		for _, i := range c.Running() {
			if i != victim {
				survivors = append(survivors, c.Nodes[i].KMIPAddr)
			}
		}
		w := startWriters(t, led, c.Nodes[0], 4, survivors...)
		led.waitAcks(t, 30+rng.IntN(60), w.errs)
		// Writes in flight while the leader dies may fail; the survivors
		// must go on acknowledging others.
		w.expectF.Store(true)
		c.Nodes[victim].Kill()
		led.waitAcks(t, 30, w.errs)
		c.Nodes[victim].Restart(t)
		led.waitAcks(t, 20, w.errs)
		w.halt()
		keys, acks := led.count()
		t.Logf("round %d: killed %s (leader: %v); %d keys, %d writes acknowledged", round+1, c.Nodes[victim].Name, victim == leader, keys, acks)
		c.WaitDigestsEqual(t)
		cl, err := dialAddr(t.Context(), c.Nodes[victim], c.Nodes[victim].KMIPAddr)
		if err != nil {
			t.Fatal(err)
		}
		led.verify(t, cl, fmt.Sprintf("round %d, %s", round+1, c.Nodes[victim].Name))
		closeClient(cl)
		if t.Failed() {
			return
		}
	}
}
