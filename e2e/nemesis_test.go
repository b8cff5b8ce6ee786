package e2e_test

import (
	"context"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/e2e/harness"
)

// The nemesis suite: concurrent KMIP clients on a three-node cluster while
// faults are injected, the history checked for linearizability against
// nemesisModel, and the replicas compared at the end. See e2e/README.md
// for the long run.

// Fault kinds.
const (
	faultKillLeader  = "kill-leader"
	faultKillRandom  = "kill-random"
	faultPause       = "pause"
	faultIsolate     = "isolate-leader"
	faultMinority    = "partition-minority"
	faultOneWay      = "one-way"
	faultBridge      = "bridge"
	faultFlap        = "flapping-link"
	faultRestartAll  = "restart-all"
	faultReplace     = "replace-node"
	faultGrowShrink  = "add-remove-node"
	faultSnapInstall = "snapshot-install"
	// faultClockJump steps the machine's wall clock back and then
	// forward again: every node sees the jump (a process cannot be given
	// a clock of its own here), and so does every other process, which is
	// why it runs only when KMSD_NEMESIS_FAULTS names it.
	faultClockJump = "clock-jump"
	// The disk faults act on one node whose data folder is on a loop
	// device (harness.LoopDisk), which needs root.
	faultDiskFull = "disk-full"
	faultSlowDisk = "slow-disk"
)

// defaultFaults are the faults of a run that does not name them.
var defaultFaults = []string{
	faultKillLeader, faultKillRandom, faultPause, faultIsolate, faultMinority, faultOneWay,
	faultBridge, faultFlap, faultRestartAll, faultReplace, faultGrowShrink, faultSnapInstall,
	faultDiskFull, faultSlowDisk,
}

var allFaults = append(slices.Clone(defaultFaults), faultClockJump)

// nemesisConfig is a run's settings, from the environment.
type nemesisConfig struct {
	duration time.Duration // 0: each fault kind once
	seed     uint64
	clients  int
	faults   []string
}

func nemesisConfigFromEnv(t *testing.T) nemesisConfig {
	cfg := nemesisConfig{seed: uint64(time.Now().UnixNano()), clients: 6, faults: defaultFaults}
	if v := os.Getenv("KMSD_NEMESIS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("KMSD_NEMESIS_DURATION=%q: %v", v, err)
		}
		cfg.duration = d
	}
	if v := os.Getenv("KMSD_NEMESIS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("KMSD_NEMESIS_SEED=%q: %v", v, err)
		}
		cfg.seed = s
	}
	if v := os.Getenv("KMSD_NEMESIS_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			t.Fatalf("KMSD_NEMESIS_CLIENTS=%q: want 1 to 256", v)
		}
		cfg.clients = n
	}
	if v := os.Getenv("KMSD_NEMESIS_FAULTS"); v != "" {
		cfg.faults = nil
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); !slices.Contains(allFaults, f) {
				t.Fatalf("KMSD_NEMESIS_FAULTS: unknown fault %q; known: %s", f, strings.Join(allFaults, ","))
			}
			cfg.faults = append(cfg.faults, f)
		}
	}
	return cfg
}

// scheduled is one fault of the schedule, for the report.
type scheduled struct {
	at     time.Duration
	kind   string
	detail string
	took   time.Duration
}

// nemesis injects faults into c.
type nemesis struct {
	t        *testing.T
	c        *harness.Cluster
	rng      *mrand.Rand
	start    time.Time
	schedule []scheduled
	installs int // snapshot installs the nodes logged
	// adminRetries counts membership calls that failed and were tried
	// again through another node, as an operator would.
	adminRetries int

	disk     *harness.Disk // the data folder of node diskNode, for the disk faults
	diskNode int
	notes    []string // what the run could not do, for the summary
}

func (n *nemesis) log(kind, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	n.schedule = append(n.schedule, scheduled{at: time.Since(n.start), kind: kind, detail: detail})
	n.t.Logf("nemesis %s: %s: %s", time.Since(n.start).Round(time.Millisecond), kind, detail)
}

// remove takes node gone out of the cluster through node via. A call that
// fails (kmsctl's 10 s limit, while the node it asked sees no leader) is
// tried again through another node, at most three times in all, as an
// operator would; the summary counts the retries.
func (n *nemesis) remove(gone, via int) {
	const attempts = 3
	for try := 1; ; try++ {
		err := n.c.Remove(n.t, gone, via)
		if err == nil {
			return
		}
		if try > 1 && strings.Contains(err.Error(), "no such member") {
			// The failed call had removed it after all.
			n.c.MarkRemoved(gone)
			return
		}
		if try == attempts {
			n.t.Fatalf("remove %s: %v (tried %d times)", n.name(gone), err, attempts)
		}
		n.adminRetries++
		n.t.Logf("remove %s through %s failed (%v); trying again", n.name(gone), n.name(via), err)
		if others := without(n.c.Running(), gone); len(others) > 0 {
			via = n.pick(others)
		}
	}
}

func (n *nemesis) hold(min, max time.Duration) {
	time.Sleep(min + time.Duration(n.rng.Int64N(int64(max-min)+1)))
}

// partition cuts a from b for a while, then heals the network.
func (n *nemesis) partition(a, b []int, min, max time.Duration) {
	n.c.Net.Partition(a, b)
	n.hold(min, max)
	n.c.Net.Heal()
}

func (n *nemesis) pick(nodes []int) int { return nodes[n.rng.IntN(len(nodes))] }

func (n *nemesis) name(i int) string { return n.c.ID(i) }

func (n *nemesis) names(nodes []int) string {
	out := make([]string, len(nodes))
	for k, i := range nodes {
		out[k] = n.name(i)
	}
	return strings.Join(out, ", ")
}

// inject runs one fault and repairs it: after it, every member runs, the
// network is whole and the cluster has a leader.
func (n *nemesis) inject(kind string) {
	c, t := n.c, n.t
	began := time.Now()
	leader := c.Leader(t)
	running := c.Running()
	followers := c.Followers(leader)
	switch kind {
	case faultKillLeader, faultKillRandom:
		victim := leader
		if kind == faultKillRandom {
			victim = n.pick(running)
		}
		n.log(kind, "SIGKILL %s", n.name(victim))
		c.Nodes[victim].Kill()
		n.hold(500*time.Millisecond, 3*time.Second)
		c.Nodes[victim].Restart(t)
	case faultPause:
		victim := leader
		if n.rng.IntN(2) == 0 {
			victim = n.pick(running)
		}
		n.log(kind, "SIGSTOP %s", n.name(victim))
		if err := c.Nodes[victim].Pause(); err != nil {
			t.Fatal(err)
		}
		n.hold(2*time.Second, 5*time.Second)
		if err := c.Nodes[victim].Resume(); err != nil {
			t.Fatal(err)
		}
	case faultIsolate:
		n.log(kind, "%s cut off from %s", n.name(leader), n.names(followers))
		n.partition([]int{leader}, followers, 2*time.Second, 5*time.Second)
	case faultMinority:
		f := n.pick(followers)
		n.log(kind, "%s cut off from the others", n.name(f))
		n.partition([]int{f}, without(running, f), 2*time.Second, 5*time.Second)
	case faultOneWay:
		f := n.pick(followers)
		if n.rng.IntN(2) == 0 {
			n.log(kind, "%s -> %s dropped (the follower hears nothing)", n.name(leader), n.name(f))
			c.Net.Cut(leader, f)
		} else {
			n.log(kind, "%s -> %s dropped (the leader hears nothing back)", n.name(f), n.name(leader))
			c.Net.Cut(f, leader)
		}
		n.hold(2*time.Second, 5*time.Second)
		c.Net.Heal()
	case faultBridge:
		if len(followers) < 2 {
			n.log(kind, "skipped: %d followers", len(followers))
			return
		}
		// The leader sees both followers, which cannot see each other;
		// or a follower bridges the leader and the other follower.
		a, b := followers[0], followers[1]
		if n.rng.IntN(2) == 0 {
			a = leader
		}
		n.log(kind, "%s and %s cut apart; the others see both", n.name(a), n.name(b))
		n.partition([]int{a}, []int{b}, 2*time.Second, 5*time.Second)
	case faultFlap:
		f := n.pick(running)
		n.log(kind, "%s cut off and healed every few hundred ms", n.name(f))
		until := time.Now().Add(3*time.Second + time.Duration(n.rng.IntN(3000))*time.Millisecond)
		for time.Now().Before(until) {
			c.Net.Partition([]int{f}, without(running, f))
			n.hold(100*time.Millisecond, 700*time.Millisecond)
			c.Net.Heal()
			n.hold(100*time.Millisecond, 700*time.Millisecond)
		}
	case faultRestartAll:
		n.log(kind, "SIGKILL %d nodes, then start them together", len(running))
		for _, i := range running {
			c.Nodes[i].Kill()
		}
		n.hold(200*time.Millisecond, time.Second)
		c.RestartAll(t)
	case faultReplace:
		// A dead follower is removed and a new node, with a new id and an
		// empty disk, joins in its place.
		f := n.pick(n.removable(followers))
		c.Nodes[f].Kill()
		n.remove(f, leader)
		added := c.AddNode(t)
		n.log(kind, "%s died and was removed; %s joined", n.name(f), n.name(added))
		c.WaitVoters(t, len(running))
	case faultGrowShrink:
		added := c.AddNode(t)
		c.WaitVoters(t, len(running)+1)
		gone := n.pick(n.removable(without(c.Running(), added)))
		via := n.pick(without(c.Running(), gone))
		n.remove(gone, via)
		n.log(kind, "%s joined; then %s was removed", n.name(added), n.name(gone))
		c.WaitVoters(t, len(running))
	case faultSnapInstall:
		// A follower cut off while the others write past the trailing
		// logs of a snapshot can catch up only by a snapshot install.
		f := n.pick(followers)
		from, err := c.Status(t, leader)
		if err != nil {
			t.Fatalf("status of the leader: %v", err)
		}
		c.Net.Partition([]int{f}, without(running, f))
		// Hold the cut until the others wrote past a snapshot and its
		// trailing logs (or 40 s passed, under a slow workload).
		advanced := uint64(0)
		for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline) && advanced < 2*nemesisTrailingLogs+nemesisSnapshotThreshold; {
			time.Sleep(500 * time.Millisecond)
			if st, err := c.Status(t, leader); err == nil && st.AppliedIndex > from.AppliedIndex {
				advanced = st.AppliedIndex - from.AppliedIndex
			}
		}
		c.Net.Heal()
		n.log(kind, "%s cut off while the others wrote %d entries", n.name(f), advanced)
	case faultDiskFull:
		target := n.diskTarget(leader)
		wrote, err := n.disk.Fill()
		if err != nil {
			t.Fatalf("fill the disk of %s: %v", n.name(target), err)
		}
		n.log(kind, "the disk of %s filled up (%d MiB written)", n.name(target), wrote>>20)
		n.hold(3*time.Second, 6*time.Second)
		if err := n.disk.Unfill(); err != nil {
			t.Fatalf("free the disk of %s: %v", n.name(target), err)
		}
		n.reviveDiskNode()
	case faultSlowDisk:
		target := n.diskTarget(leader)
		iops := 5 + n.rng.IntN(20)
		n.log(kind, "the disk of %s limited to %d writes a second", n.name(target), iops)
		if err := n.disk.Throttle(c.Nodes[target], iops); err != nil {
			t.Fatalf("throttle the disk of %s: %v", n.name(target), err)
		}
		n.hold(4*time.Second, 8*time.Second)
		if err := n.disk.Unthrottle(); err != nil {
			t.Fatalf("unthrottle: %v", err)
		}
		n.reviveDiskNode()
	case faultClockJump:
		back := time.Duration(5+n.rng.IntN(25)) * time.Second
		n.log(kind, "wall clock stepped back %s, then forward again", back)
		before := time.Now()
		if err := setWallClock(before.Add(-back)); err != nil {
			t.Fatalf("step the clock: %v (the clock-jump fault needs CAP_SYS_TIME)", err)
		}
		n.hold(2*time.Second, 6*time.Second)
		// time.Since reads the monotonic clock, which the step left alone.
		if err := setWallClock(before.Add(time.Since(before))); err != nil {
			t.Fatalf("restore the clock: %v", err)
		}
	default:
		t.Fatalf("unknown fault %q", kind)
	}
	c.Leader(t)
	n.schedule[len(n.schedule)-1].took = time.Since(began)
}

// removable leaves out the node with the loop disk, which the disk faults
// need.
func (n *nemesis) removable(nodes []int) []int {
	if n.disk == nil || len(nodes) < 2 {
		return nodes
	}
	return without(nodes, n.diskNode)
}

// diskTarget returns the disk node, made leader first half of the time:
// a leader whose disk fails is the harder case.
func (n *nemesis) diskTarget(leader int) int {
	if leader != n.diskNode && n.rng.IntN(2) == 0 {
		if _, err := n.c.AdminCtl(n.t, leader, "cluster", "transfer-leader", n.c.ID(n.diskNode)); err != nil {
			n.t.Logf("nemesis: transfer leadership to %s: %v", n.name(n.diskNode), err)
		}
	}
	return n.diskNode
}

// reviveDiskNode restarts the disk node if its disk fault made it exit,
// and records that it did.
func (n *nemesis) reviveDiskNode() {
	node := n.c.Nodes[n.diskNode]
	if len(n.c.Running()) > 0 && !slices.Contains(n.c.Running(), n.diskNode) {
		n.notes = append(n.notes, fmt.Sprintf("%s exited during a disk fault at %s and was restarted", n.name(n.diskNode), time.Since(n.start).Round(time.Second)))
		n.t.Logf("nemesis: %s exited during the disk fault; restarting it", node.Name)
		node.Restart(n.t)
	}
}

// setUpDisk moves the data folder of node i onto a loop disk, or drops the
// disk faults from the run and says why.
func (n *nemesis) setUpDisk(cfg *nemesisConfig, i int) {
	if !slices.Contains(cfg.faults, faultDiskFull) && !slices.Contains(cfg.faults, faultSlowDisk) {
		return
	}
	node := n.c.Nodes[i]
	node.Stop()
	d, err := harness.LoopDisk(n.t, node, 512<<20)
	node.Restart(n.t)
	if err != nil {
		cfg.faults = slices.DeleteFunc(cfg.faults, func(f string) bool { return f == faultDiskFull || f == faultSlowDisk })
		n.notes = append(n.notes, "disk faults not simulated: "+err.Error())
		n.t.Logf("nemesis: no disk faults: %v", err)
		return
	}
	n.disk, n.diskNode = d, i
	n.c.Leader(n.t)
}

func without(nodes []int, x int) []int {
	return slices.DeleteFunc(slices.Clone(nodes), func(i int) bool { return i == x })
}

// nemesisArgs make snapshots frequent and short, so that a follower cut off
// for a few seconds catches up by a snapshot install.
var nemesisArgs = []string{
	"--snapshot-threshold", strconv.Itoa(nemesisSnapshotThreshold),
	"--snapshot-trailing-logs", strconv.Itoa(nemesisTrailingLogs),
	"--snapshot-interval", "1s",
}

// The run's snapshot settings: a node that joins restores a snapshot while
// the others keep writing, and must then find the entries since in the
// leader's log, so the trailing logs outlast a restore under load.
const (
	nemesisSnapshotThreshold = 256
	nemesisTrailingLogs      = 2048
)

// TestNemesis runs the workload on a three-node cluster while the nemesis
// injects each fault kind once (in an order the seed decides), or for
// KMSD_NEMESIS_DURATION with kinds the seed picks. The history must be
// linearizable, every replica must end with the same state, no id may be
// answered twice, and every object the history knows must read back from
// every node as the model says.
func TestNemesis(t *testing.T) {
	cfg := nemesisConfigFromEnv(t)
	t.Logf("nemesis: seed %d (KMSD_NEMESIS_SEED=%d reproduces the schedule), %d clients, faults %s",
		cfg.seed, cfg.seed, cfg.clients, strings.Join(cfg.faults, ","))
	c := harness.StartCluster(t, 3, harness.JoinAtStart(), harness.WithFaultNet(), harness.WithArgs(nemesisArgs...))
	n := &nemesis{t: t, c: c, rng: mrand.New(mrand.NewPCG(cfg.seed, 0))}
	n.setUpDisk(&cfg, 2)
	n.start = time.Now()
	balancer := c.Balancer(t)
	tlsCfg := c.Nodes[0].TLSConfig(t)

	w := newWorkload(tlsCfg, func(rng *mrand.Rand) string {
		addrs := c.KMIPAddrs()
		if rng.IntN(3) == 0 {
			return balancer
		}
		return addrs[rng.IntN(len(addrs))]
	}, "nem"+strconv.FormatUint(cfg.seed%100000, 10))
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range cfg.clients {
		cl := &nemClient{id: i, w: w, target: w.targets, rng: mrand.New(mrand.NewPCG(cfg.seed, uint64(i)+1))}
		wg.Add(1)
		go func() { defer wg.Done(); cl.run(ctx) }()
	}

	time.Sleep(2 * time.Second)
	if cfg.duration == 0 {
		order := slices.Clone(cfg.faults)
		n.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, kind := range order {
			n.inject(kind)
			n.hold(500*time.Millisecond, 1500*time.Millisecond)
		}
	} else {
		for deadline := time.Now().Add(cfg.duration); time.Now().Before(deadline); {
			n.inject(cfg.faults[n.rng.IntN(len(cfg.faults))])
			n.hold(time.Second, 4*time.Second)
		}
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	// Every replica ends in one state; then every object is read back
	// through every node, as part of the history.
	c.WaitDigestsEqual(t)
	finalReads(t, c, w)

	installs := 0
	for _, node := range c.Nodes {
		installs += strings.Count(string(node.Output()), "Installed remote snapshot")
	}
	n.installs = installs
	checkNemesisHistory(t, w, n, cfg)
	if slices.Contains(cfg.faults, faultSnapInstall) && installs == 0 {
		t.Error("no node installed a snapshot: the snapshot-install fault did not do what it is for")
	}
	checkStrongHistory(t, w)
}

// checkStrongHistory fails a run whose history could not have shown the
// anomalies the model looks for: each operation kind must have succeeded,
// and some Gets must have been refused after a Destroy.
func checkStrongHistory(t *testing.T, w *workload) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range []string{opCreate, opRegister, opGet, opAttrs, opAdd, opModify, opDelete, opActivate, opRevoke, opCompro, opDestroy, opLocate, opRekey} {
		if w.outcomes[k]["ok"] == 0 {
			t.Errorf("weak history: no %s succeeded", k)
		}
	}
	if w.outcomes[opGet]["refused"] == 0 {
		t.Error("weak history: no Get was refused (after a Destroy)")
	}
}

// The final reads: through each node, finalReaders connections split the
// lineages; reader r of node i has the client id
// finalClient+i*finalReaders+r.
const (
	finalClient  = 1000
	finalReaders = 8
)

// finalReads reads every lineage back through every running node: Locate
// by its Name, and Get and Get Attributes of each id the clients learnt.
func finalReads(t *testing.T, c *harness.Cluster, w *workload) {
	t.Helper()
	addrs := c.KMIPAddrs()
	var wg sync.WaitGroup
	for _, i := range c.Running() {
		for r := range finalReaders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &nemClient{id: finalClient + i*finalReaders + r, w: w, target: func(*mrand.Rand) string { return addrs[i] }}
				defer func() {
					if cl.conn != nil {
						cl.conn.Close()
					}
				}()
				for k := r; k < len(w.all); k += finalReaders {
					l := w.all[k]
					ops := []nemOp{{kind: opLocate, lineage: l.name}}
					for _, id := range l.ids {
						ops = append(ops, nemOp{kind: opGet, lineage: l.name, id: id}, nemOp{kind: opAttrs, lineage: l.name, id: id})
					}
					for _, in := range ops {
						call := w.stamp()
						out, sent := cl.exchange(finalPayload(in))
						ret := w.stamp()
						if !sent || out.unknown {
							t.Errorf("final read %s through %s: no answer (%s)", nemesisModel.DescribeOperation(in, out), c.Nodes[i].Name, out.reason)
							continue
						}
						w.record(cl.id, in, out, call, ret)
					}
				}
			}()
		}
	}
	wg.Wait()
}

func finalPayload(in nemOp) kmip.OperationPayload {
	switch in.kind {
	case opLocate:
		return locatePayload(in.lineage)
	case opGet:
		return getPayload(in.id)
	default:
		return attrsPayload(in.id)
	}
}

// checkNemesisHistory checks the history with porcupine, reports the run,
// and fails the test on an anomaly: the seed, the schedule, the shortest
// partial history that porcupine could not linearize, and its HTML
// visualisation are printed.
func checkNemesisHistory(t *testing.T, w *workload, n *nemesis, cfg nemesisConfig) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(nemesisModel, w.history, 5*time.Minute)

	var dup []string
	for id, k := range w.answered {
		if k > 1 {
			dup = append(dup, fmt.Sprintf("%s (%d times)", id, k))
		}
	}
	lost := lostWrites(w)
	reportNemesis(t, w, n, cfg, res, len(dup), lost)
	if len(dup) > 0 {
		t.Errorf("ids answered more than once: %s", strings.Join(dup, ", "))
	}
	if res != porcupine.Ok {
		file := filepath.Join(t.TempDir(), "nemesis.html")
		if dir := os.Getenv("KMSD_NEMESIS_OUT"); dir != "" {
			file = filepath.Join(dir, fmt.Sprintf("nemesis-%d.html", cfg.seed))
		}
		if f, err := os.Create(file); err == nil {
			_ = porcupine.Visualize(nemesisModel, info, f)
			_ = f.Close()
		}
		t.Errorf("seed %d: the history is not linearizable (%s); visualisation: %s", cfg.seed, res, file)
		for _, s := range n.schedule {
			t.Logf("  fault at %s: %s: %s", s.at.Round(time.Millisecond), s.kind, s.detail)
		}
		for _, ops := range minimalViolation(w.history) {
			t.Logf("  %s", ops)
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost", lost)
	}
}

// lostWrites counts acknowledged creates, registers and re-keys whose
// object a final read through some node did not find.
func lostWrites(w *workload) int {
	acked := map[string]bool{}
	missing := map[string]bool{}
	for _, op := range w.history {
		in, out := op.Input.(nemOp), op.Output.(nemResult)
		switch {
		case (in.kind == opCreate || in.kind == opRegister || in.kind == opRekey) && out.ok:
			acked[out.id] = true
		case op.ClientId >= finalClient && in.kind == opAttrs && !out.ok:
			missing[in.id] = true
		}
	}
	lost := 0
	for id := range missing {
		if acked[id] {
			lost++
		}
	}
	return lost
}

// minimalViolation describes the lineage histories porcupine could not
// linearize, shortest first, one operation a line.
func minimalViolation(history []porcupine.Operation) []string {
	var bad [][]porcupine.Operation
	for _, part := range nemesisModel.Partition(history) {
		if res := porcupine.CheckOperations(nemesisModel, part); !res {
			bad = append(bad, part)
		}
	}
	sort.Slice(bad, func(i, j int) bool { return len(bad[i]) < len(bad[j]) })
	var out []string
	for k, part := range bad {
		if k == 3 {
			out = append(out, fmt.Sprintf("... and %d more lineages", len(bad)-k))
			break
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		out = append(out, fmt.Sprintf("lineage %s, %d operations:", part[0].Input.(nemOp).lineage, len(part)))
		for _, op := range part {
			ret := "?"
			if op.Return != math.MaxInt64 {
				ret = time.Duration(op.Return).String()
			}
			out = append(out, fmt.Sprintf("  client %d [%s, %s] %s", op.ClientId, time.Duration(op.Call), ret,
				nemesisModel.DescribeOperation(op.Input, op.Output)))
		}
	}
	return out
}

// reportNemesis logs the summary table of a run.
func reportNemesis(t *testing.T, w *workload, n *nemesis, cfg nemesisConfig, res porcupine.CheckResult, dups, lost int) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "operation\tok\trefused\tunknown\t\n")
	kinds := make([]string, 0, len(w.outcomes))
	for k := range w.outcomes {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	total := 0
	for _, k := range kinds {
		o := w.outcomes[k]
		total += o["ok"] + o["refused"] + o["unknown"]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", k, o["ok"], o["refused"], o["unknown"])
	}
	tw.Flush()
	faults := map[string]int{}
	for _, s := range n.schedule {
		faults[s.kind]++
	}
	fmt.Fprintf(&b, "\nfaults (%d):", len(n.schedule))
	for _, k := range allFaults {
		if faults[k] > 0 {
			fmt.Fprintf(&b, " %s=%d", k, faults[k])
		}
	}
	parts := len(nemesisModel.Partition(w.history))
	fmt.Fprintf(&b, "; snapshot installs: %d; membership calls tried again: %d", n.installs, n.adminRetries)
	for _, note := range n.notes {
		fmt.Fprintf(&b, "\n%s", note)
	}
	fmt.Fprintf(&b, "\nseed %d, %d clients, %s of faults; %d operations in %d lineage histories: %s; ids answered twice: %d; acknowledged writes lost: %d\n",
		cfg.seed, cfg.clients, time.Since(n.start).Round(time.Second), total, parts, res, dups, lost)
	t.Logf("nemesis summary:\n%s", b.String())
}
