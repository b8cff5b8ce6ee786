package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Latencies are counted in a log-linear histogram: exact below 128 ns,
// then 128 buckets per power of two, so a reported percentile is at most
// 1/128 (0.8%) above the true value, whatever the run length. Memory is
// fixed per operation kind and connection.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// histMaxBits bounds the tracked range to 2^40 ns (18 minutes); longer
	// latencies count in the last bucket. max is kept exactly.
	histMaxBits = 40
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// histogram counts latencies in nanoseconds.
type histogram struct {
	counts   []uint64 // allocated by the first record
	n        uint64
	sum      uint64
	min, max uint64
}

func histBucket(v uint64) int {
	if v >= 1<<histMaxBits {
		return histBuckets - 1
	}
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return (shift+1)<<histSubBits + int(v>>shift) - histSub
}

// histHigh is the largest value that falls into bucket i.
func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	mantissa := uint64(i&(histSub-1) | histSub)
	return mantissa<<shift + (1<<shift - 1)
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[histBucket(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1): the smallest
// recorded value that at least q of all values do not exceed, as the top
// of its bucket, never above the largest value seen. Zero when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(histHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// opStats is what one connection saw of one operation kind in the
// measured phase. Latencies are of successful operations only.
type opStats struct {
	latency histogram
	ok      int64
	errors  map[string]int64 // by errKind
}

func (s *opStats) fail(kind string) {
	if s.errors == nil {
		s.errors = map[string]int64{}
	}
	s.errors[kind]++
}

func (s *opStats) merge(o *opStats) {
	s.latency.merge(&o.latency)
	s.ok += o.ok
	for k, v := range o.errors {
		if s.errors == nil {
			s.errors = map[string]int64{}
		}
		s.errors[k] += v
	}
}

// benchResult is the output of kmsctl bench; the JSON names are
// documented in the command's help and are kept stable.
type benchResult struct {
	Targets       []string       `json:"targets"`
	Connections   int            `json:"connections"`
	Mix           string         `json:"mix"`
	WarmupSeconds float64        `json:"warmup_seconds"`
	Seconds       float64        `json:"seconds"`
	Interrupted   bool           `json:"interrupted"`
	Preload       *preloadResult `json:"preload,omitempty"`
	Operations    []opResult     `json:"operations"`
	Total         opResult       `json:"total"`
}

type preloadResult struct {
	Keys          int     `json:"keys"`
	NamePrefix    string  `json:"name_prefix"`
	Seconds       float64 `json:"seconds"`
	KeysPerSecond float64 `json:"keys_per_second"`
}

type opResult struct {
	Op           string           `json:"op"`
	Count        int64            `json:"count"`
	Errors       int64            `json:"errors"`
	OpsPerSecond float64          `json:"ops_per_second"`
	P50Ms        float64          `json:"p50_ms"`
	P99Ms        float64          `json:"p99_ms"`
	P999Ms       float64          `json:"p999_ms"`
	MaxMs        float64          `json:"max_ms"`
	MeanMs       float64          `json:"mean_ms"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// summarize turns merged stats into a result row; elapsed is the length
// of the measured phase.
func summarize(op string, s *opStats, elapsed time.Duration) opResult {
	r := opResult{Op: op, Count: s.ok, ErrorsByKind: map[string]int64{}}
	for k, v := range s.errors {
		r.Errors += v
		r.ErrorsByKind[k] = v
	}
	r.Count += r.Errors
	if elapsed > 0 {
		r.OpsPerSecond = round(float64(s.ok)/elapsed.Seconds(), 1)
	}
	h := &s.latency
	r.P50Ms, r.P99Ms, r.P999Ms = ms(h.quantile(0.50)), ms(h.quantile(0.99)), ms(h.quantile(0.999))
	r.MaxMs, r.MeanMs = ms(time.Duration(h.max)), ms(h.mean())
	return r
}

// msText prints milliseconds with three significant digits or more.
func msText(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
}

func (r opResult) row() []string {
	return []string{r.Op, strconv.FormatInt(r.Count, 10), strconv.FormatInt(r.Errors, 10),
		strconv.FormatFloat(r.OpsPerSecond, 'f', 1, 64),
		msText(r.P50Ms), msText(r.P99Ms), msText(r.P999Ms), msText(r.MaxMs)}
}

func errorsText(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (r benchResult) writeText(w io.Writer) error {
	if p := r.Preload; p != nil {
		fmt.Fprintf(w, "preload: %d AES-256 keys named %s0 … %s%d in %s (%.0f keys/s)\n",
			p.Keys, p.NamePrefix, p.NamePrefix, max(p.Keys-1, 0), secondsText(p.Seconds), p.KeysPerSecond)
	}
	if len(r.Operations) == 0 {
		return nil
	}
	state := ""
	if r.Interrupted {
		state = ", interrupted"
	}
	fmt.Fprintf(w, "%d connections to %s, mix %s: %s measured after %s warm-up%s\n",
		r.Connections, strings.Join(r.Targets, ","), r.Mix, secondsText(r.Seconds), secondsText(r.WarmupSeconds), state)
	rows := make([][]string, 0, len(r.Operations)+1)
	for _, o := range r.Operations {
		rows = append(rows, o.row())
	}
	if len(r.Operations) > 1 {
		rows = append(rows, r.Total.row())
	}
	if err := writeTable(w, []string{"OP", "COUNT", "ERRORS", "OPS/S", "P50", "P99", "P99.9", "MAX"}, rows); err != nil {
		return err
	}
	for _, o := range r.Operations {
		if o.Errors > 0 {
			fmt.Fprintf(w, "errors in %s: %s\n", o.Op, errorsText(o.ErrorsByKind))
		}
	}
	return nil
}
