package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/fsm"
	kmsdkmip "github.com/kmsd/kmsd/kmip"
)

func TestParseMix(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want: canonical form
	}{
		{"create", "create=1"},
		{"create=2,get=5,locate=1", "create=2,get=5,locate=1"},
		{" get = 3 , lifecycle ", "get=3,lifecycle=1"},
		{"create-key-pair=1,get-attributes=2,register=7", "create-key-pair=1,get-attributes=2,register=7"},
		{"none", "none"},
	} {
		m, err := parseMix(tt.in)
		if err != nil || m.String() != tt.want {
			t.Errorf("parseMix(%q) = %q, %v; want %q", tt.in, m.String(), err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"encrypt=1", `unknown operation "encrypt": want create, register, get, get-attributes, locate, create-key-pair, lifecycle (or none)`},
		{"create=0", `invalid --mix weight "0" for create`},
		{"create=x", `invalid --mix weight "x" for create`},
		{"create=-1", `invalid --mix weight "-1"`},
		{"create,get,create=2", "create appears twice"},
		{"create,,get", `unknown operation ""`},
		{"", "--mix is empty"},
		{"none,create", `unknown operation "none"`},
	} {
		if _, err := parseMix(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseMix(%q) error %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestMixPickFollowsWeights(t *testing.T) {
	m, err := parseMix("create=1,get=3")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var n [2]int
	for range 40000 {
		n[m.pick(rng)]++
	}
	// Expected 10000 and 30000; a fair generator strays by about 90.
	if n[0] < 9000 || n[0] > 11000 {
		t.Errorf("picks %v, want about 1:3", n)
	}
}

func TestParseKeyPairAlg(t *testing.T) {
	for in, want := range map[string]keyPairAlg{
		"rsa-2048": {name: "rsa-2048", bits: 2048},
		"RSA-4096": {name: "rsa-4096", bits: 4096},
		"ec-p256":  {name: "ec-p256", ec: true, bits: 256},
		"ec-p-521": {name: "ec-p521", ec: true, bits: 521},
	} {
		if got, err := parseKeyPairAlg(in); err != nil || got != want {
			t.Errorf("parseKeyPairAlg(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"rsa", "rsa-512", "rsa-2047", "rsa-8192", "ec-p255", "dsa-1024", ""} {
		if _, err := parseKeyPairAlg(in); err == nil {
			t.Errorf("parseKeyPairAlg(%q) accepted", in)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every value lies in its bucket, and buckets are contiguous.
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 257, 1000, 123456789, 1<<40 - 1} {
		i := histBucket(v)
		lo := uint64(0)
		if i > 0 {
			lo = histHigh(i-1) + 1
		}
		if v < lo || v > histHigh(i) {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, histHigh(i))
		}
		if v >= histSub && float64(histHigh(i)-lo) > float64(v)/histSub {
			t.Errorf("bucket of %d is %d wide, more than 1/%d of it", v, histHigh(i)-lo+1, histSub)
		}
	}
	if got := histBucket(1 << 50); got != histBuckets-1 {
		t.Errorf("bucket of 2^50 = %d, want the last, %d", got, histBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var empty histogram
	if empty.quantile(0.99) != 0 || empty.mean() != 0 {
		t.Error("empty histogram: want zero quantiles and mean")
	}

	// Small values are exact: 1..100 ns.
	var small histogram
	for v := 100; v >= 1; v-- {
		small.record(time.Duration(v))
	}
	for q, want := range map[float64]time.Duration{0.01: 1, 0.5: 50, 0.99: 99, 0.999: 100, 1: 100} {
		if got := small.quantile(q); got != want {
			t.Errorf("1..100ns: quantile(%v) = %v, want %v", q, got, want)
		}
	}

	// 1..10000 us, recorded in two histograms and merged: nearest rank
	// within the bucket precision.
	var a, b histogram
	for i := 1; i <= 10000; i++ {
		h := &a
		if i%3 == 0 {
			h = &b
		}
		h.record(time.Duration(i) * time.Microsecond)
	}
	a.merge(&b)
	for q, want := range map[float64]time.Duration{0.5: 5000 * time.Microsecond, 0.99: 9900 * time.Microsecond, 0.999: 9990 * time.Microsecond} {
		got := a.quantile(q)
		if got < want || float64(got-want) > float64(want)/histSub {
			t.Errorf("quantile(%v) = %v, want %v (+0.8%%)", q, got, want)
		}
	}
	if got := a.quantile(1); got != 10*time.Millisecond {
		t.Errorf("quantile(1) = %v, want the maximum 10ms", got)
	}
	if got := a.mean(); got != 5000500*time.Nanosecond {
		t.Errorf("mean = %v, want 5.0005ms", got)
	}

	// One slow outlier among fast operations shows at p99.9 only when it
	// is more than 0.1% of them.
	var tail histogram
	for range 999 {
		tail.record(time.Millisecond)
	}
	tail.record(time.Second)
	if p999, p100 := tail.quantile(0.999), tail.quantile(1); p999 > time.Millisecond+time.Millisecond/histSub || p100 != time.Second {
		t.Errorf("p99.9 = %v, max = %v; want 1ms and 1s", p999, p100)
	}
}

func TestBenchResultJSON(t *testing.T) {
	var s opStats
	for i := 1; i <= 100; i++ {
		s.ok++
		s.latency.record(time.Duration(i) * time.Millisecond)
	}
	s.fail("ItemNotFound")
	s.fail("ItemNotFound")
	s.fail("timeout")
	row := summarize("get", &s, 2*time.Second)
	res := benchResult{
		Targets: []string{"127.0.0.1:5696"}, Connections: 4, Mix: "get=1", WarmupSeconds: 2, Seconds: 2,
		Preload:    &preloadResult{Keys: 10, NamePrefix: "bench-", Seconds: 0.5, KeysPerSecond: 20},
		Operations: []opResult{row}, Total: summarize("total", &s, 2*time.Second),
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"connections", "interrupted", "mix", "operations", "preload", "seconds", "targets", "total", "warmup_seconds"}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, wantKeys) {
		t.Errorf("top-level fields %v, want %v", got, wantKeys)
	}
	if got := slices.Sorted(maps.Keys(doc["preload"].(map[string]any))); !slices.Equal(got, []string{"keys", "keys_per_second", "name_prefix", "seconds"}) {
		t.Errorf("preload fields %v", got)
	}
	op := doc["operations"].([]any)[0].(map[string]any)
	wantOp := []string{"count", "errors", "errors_by_kind", "max_ms", "mean_ms", "op", "ops_per_second", "p50_ms", "p999_ms", "p99_ms"}
	if got := slices.Sorted(maps.Keys(op)); !slices.Equal(got, wantOp) {
		t.Errorf("operation fields %v, want %v", got, wantOp)
	}
	want := map[string]any{"op": "get", "count": 103.0, "errors": 3.0, "ops_per_second": 50.0, "max_ms": 100.0, "mean_ms": 50.5}
	for k, v := range want {
		if op[k] != v {
			t.Errorf("%s = %v, want %v", k, op[k], v)
		}
	}
	for k, want := range map[string]float64{"p50_ms": 50, "p99_ms": 99, "p999_ms": 100} {
		if got := op[k].(float64); got < want || got > want*(1+1.0/histSub) {
			t.Errorf("%s = %v, want %v (+0.8%%)", k, got, want)
		}
	}
	if e := op["errors_by_kind"].(map[string]any); len(e) != 2 || e["ItemNotFound"] != 2.0 || e["timeout"] != 1.0 {
		t.Errorf("errors_by_kind = %v", e)
	}

	// No errors is an empty object, not a missing field; no preload is a
	// missing field.
	clean := summarize("create", &opStats{}, time.Second)
	out, _ = json.Marshal(benchResult{Operations: []opResult{clean}, Total: clean})
	if !strings.Contains(string(out), `"errors_by_kind":{}`) || strings.Contains(string(out), `"preload"`) {
		t.Errorf("JSON without errors or preload: %s", out)
	}
}

func TestErrKind(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	for _, tt := range []struct {
		ctx  context.Context
		err  error
		kind string
		keep bool
	}{
		{live, &kmipError{Status: kmip.ResultStatusOperationFailed, Reason: kmip.ResultReasonItemNotFound}, "ItemNotFound", true},
		{live, fmt.Errorf("create: %w", &kmipError{Status: kmip.ResultStatusOperationFailed, Reason: kmip.ResultReasonIllegalOperation}), "IllegalOperation", true},
		{live, &kmipError{Status: kmip.ResultStatusOperationFailed}, "OperationFailed", true},
		{live, &kmipError{Status: kmip.ResultStatusOperationPending}, "OperationPending", true},
		{live, errNoMatch, "no-match", true},
		{expired, errors.New("request to x failed: timed out"), "timeout", false},
		{live, errors.New("malformed response from x: 2 batch items for 1 requests"), "malformed-response", false},
		{live, errors.New("request to x failed: EOF"), "connection", false},
	} {
		kind, keep := errKind(tt.ctx, tt.err)
		if kind != tt.kind || keep != tt.keep {
			t.Errorf("errKind(%v) = %q, %v; want %q, %v", tt.err, kind, keep, tt.kind, tt.keep)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	clearEnv(t)
	devDir := t.TempDir()
	if _, err := devpki.Ensure(filepath.Join(devDir, "pki")); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", "127.0.0.1:1", "--dev-dir", devDir}
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"unknown operation \"encrypt\"", []string{"--mix", "encrypt"}},
		{"--connections must be at least 1", []string{"--connections", "0"}},
		{"give either --duration or --count, not both", []string{"--duration", "5s", "--count", "10"}},
		{"--count must be at least 1", []string{"--count", "0"}},
		{"--duration must be positive", []string{"--duration", "0s"}},
		{"--warmup must not be negative", []string{"--warmup", "-1s"}},
		{"give --preload N", []string{"--mix", "locate"}},
		{"--mix none measures nothing", []string{"--mix", "none"}},
		{"--preload-batch must be from 1 to 1000", []string{"--preload", "5", "--preload-batch", "1001"}},
		{"--preload must not be negative", []string{"--preload", "-1"}},
		{`invalid --targets entry "nope"`, []string{"--targets", "127.0.0.1:1,nope"}},
		{"invalid --key-pair-alg", []string{"--key-pair-alg", "dsa"}},
		{"--keys must be at least 1", []string{"--mix", "get", "--keys", "0"}},
		{"no server at 127.0.0.1:1", []string{"--count", "1"}},
	} {
		fails(t, conn, tt.want, append([]string{"bench"}, tt.args...)...)
	}
}

// startBenchKMS runs real kmsd nodes in process: an n-node Raft cluster
// with the real state machine and keyring (clustertest), each node serving
// KMIP over mutual TLS with the certificates of a dev PKI. It returns the
// KMIP addresses and the dev dir for --dev-dir.
func startBenchKMS(t *testing.T, n int) (addrs []string, devDir string) {
	t.Helper()
	devDir = t.TempDir()
	p, err := devpki.Ensure(filepath.Join(devDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := devpki.ServerTLS(p)
	if err != nil {
		t.Fatal(err)
	}
	c := clustertest.NewFSM(t)
	for range n {
		c.Start()
	}
	c.WaitVoters(n)
	for _, node := range c.Nodes {
		svc := kmsdkmip.NewService(kmsdkmip.Config{Replicator: cluster.Typed[*fsm.Result]{Node: node.Node}, Store: node.FSM, Sealer: node.Barrier, ConsistentReads: true})
		srv := kmsdkmip.NewServer(kmsdkmip.ServerConfig{TLS: tlsCfg}, svc)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		// Registered after the cluster's cleanup, so it runs first.
		t.Cleanup(func() {
			ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			<-served
		})
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, devDir
}

// benchJSON runs kmsctl bench -o json, expects success and returns the
// result.
func benchJSON(t *testing.T, conn []string, args ...string) benchResult {
	t.Helper()
	args = append([]string{"-o", "json", "bench", "--warmup", "0s"}, args...)
	return decodeJSON[benchResult](t, ok(t, conn, args...))
}

func TestBenchEndToEnd(t *testing.T) {
	clearEnv(t)
	addrs, devDir := startBenchKMS(t, 1)
	conn := []string{"--server", addrs[0], "--dev-dir", devDir}

	// Every operation; locate needs the preloaded names. 140 picks of
	// seven equal weights leave one out with a chance below 1e-8.
	mix := strings.Join(benchOpNames(), ",")
	res := benchJSON(t, conn, "--connections", "4", "--count", "140", "--mix", mix, "--preload", "30", "--preload-batch", "7", "--key-pair-alg", "ec-p256")
	if res.Preload == nil || res.Preload.Keys != 30 || res.Preload.NamePrefix != "bench-" {
		t.Errorf("preload = %+v, want 30 keys named bench-", res.Preload)
	}
	if res.Total.Count != 140 || res.Total.Errors != 0 || len(res.Total.ErrorsByKind) != 0 {
		t.Errorf("total = %+v, want 140 operations without errors", res.Total)
	}
	var sum int64
	for i, op := range res.Operations {
		sum += op.Count
		if op.Op != benchOps[i].name || op.Count == 0 || op.Errors != 0 || op.OpsPerSecond <= 0 || op.P50Ms <= 0 || op.MaxMs < op.P99Ms {
			t.Errorf("operation %d = %+v, want %s done without errors", i, op, benchOps[i].name)
		}
	}
	if sum != 140 || len(res.Operations) != len(benchOps) || res.Mix != strings.ReplaceAll(mix, ",", "=1,")+"=1" {
		t.Errorf("operations %+v for mix %q", res.Operations, res.Mix)
	}

	// The default RSA-2048 key pair.
	if r := benchJSON(t, conn, "--connections", "1", "--count", "2", "--mix", "create-key-pair"); r.Total.Count != 2 || r.Total.Errors != 0 {
		t.Errorf("create-key-pair rsa-2048: %+v", r.Total)
	}

	// Preload only, then locate the names in a later run.
	res = benchJSON(t, conn, "--mix", "none", "--preload", "250", "--name-prefix", "later-", "--connections", "3")
	if res.Preload == nil || res.Preload.Keys != 250 || len(res.Operations) != 0 || res.Total.Count != 0 {
		t.Errorf("preload-only run = %+v", res)
	}
	res = benchJSON(t, conn, "--mix", "locate", "--locate-names", "250", "--name-prefix", "later-", "--count", "50", "--connections", "2")
	if res.Total.Count != 50 || res.Total.Errors != 0 {
		t.Errorf("locate of preloaded names: %+v", res.Total)
	}
	// Names that do not exist are errors of their own kind.
	res = benchJSON(t, conn, "--mix", "locate", "--locate-names", "3", "--name-prefix", "missing-", "--count", "5", "--connections", "1")
	if res.Total.Count != 5 || res.Total.ErrorsByKind["no-match"] != 5 || res.Total.OpsPerSecond != 0 {
		t.Errorf("locate of missing names: %+v, want 5 no-match errors", res.Total)
	}

	// Table output: one row per operation and the total.
	out := ok(t, conn, "bench", "--warmup", "0s", "--count", "20", "--mix", "create=1,get=1", "--keys", "3", "--connections", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "OP") || !strings.HasPrefix(lines[4], "total  ") || !strings.Contains(lines[4], " 20 ") {
		t.Errorf("table output:\n%s", out)
	}
}

// Connections spread round-robin over the nodes of a three-node cluster;
// reads on one node see the keys made through another.
func TestBenchTargets(t *testing.T) {
	clearEnv(t)
	addrs, devDir := startBenchKMS(t, 3)
	conn := []string{"--dev-dir", devDir}
	res := benchJSON(t, conn, "--targets", strings.Join(addrs, ","), "--connections", "6", "--count", "60",
		"--mix", "create=1,get=1,locate=1", "--preload", "12", "--preload-batch", "2")
	if !slices.Equal(res.Targets, addrs) || res.Connections != 6 {
		t.Errorf("targets %v, connections %d", res.Targets, res.Connections)
	}
	if res.Total.Count != 60 || res.Total.Errors != 0 {
		t.Errorf("total = %+v, want 60 operations without errors", res.Total)
	}
	if res.Preload == nil || res.Preload.Keys != 12 {
		t.Errorf("preload = %+v, want 12 keys", res.Preload)
	}
	// The second connection goes to the second target.
	fails(t, conn, "no server at 127.0.0.1:1", "bench", "--targets", addrs[0]+",127.0.0.1:1", "--connections", "2", "--count", "1")
}
