package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
)

// benchRun is one kmsctl bench invocation: the connections, what exists
// on the server for get and locate, and the phases.
type benchRun struct {
	cfg      benchConfig
	conn     connConfig // credentials and protocol version; the address is per worker
	progress *os.File   // nil: no progress line

	workers []*worker
	keyIDs  []string // keys for get and get-attributes
	names   int      // names <prefix>0 … <prefix>names-1 exist
}

// worker is one connection and the goroutine that drives it.
type worker struct {
	run   *benchRun
	addr  string
	s     *session // nil after a failed exchange, until dialed again
	rng   *rand.Rand
	stats []opStats // by mix index
}

func (w *worker) key() string  { return w.run.keyIDs[w.rng.IntN(len(w.run.keyIDs))] }
func (w *worker) name() string { return w.run.cfg.namePrefix + strconv.Itoa(w.rng.IntN(w.run.names)) }

func (r *benchRun) run(ctx context.Context) (*benchResult, error) {
	res := &benchResult{
		Targets: r.cfg.targets, Connections: r.cfg.connections, Mix: r.cfg.mix.String(),
		WarmupSeconds: r.cfg.warmup.Seconds(), Operations: []opResult{},
	}
	if err := r.dialAll(ctx); err != nil {
		return nil, err
	}
	defer r.closeAll()
	r.names = r.cfg.locateNames
	if r.cfg.preload > 0 {
		start := time.Now()
		ids, err := r.createKeys(ctx, r.cfg.preload, "preload")
		if err != nil {
			return nil, err
		}
		secs := time.Since(start).Seconds()
		res.Preload = &preloadResult{Keys: len(ids), NamePrefix: r.cfg.namePrefix, Seconds: round(secs, 3), KeysPerSecond: round(float64(len(ids))/secs, 1)}
		r.keyIDs, r.names = ids, max(r.names, len(ids))
	}
	if len(r.cfg.mix) == 0 {
		return res, nil
	}
	if r.cfg.mix.needs()&needKeys != 0 && len(r.keyIDs) == 0 {
		ids, err := r.createKeys(ctx, r.cfg.keys, "")
		if err != nil {
			return nil, err
		}
		r.keyIDs = ids
	}
	elapsed, interrupted := r.measure(ctx)
	res.Seconds, res.Interrupted = round(elapsed.Seconds(), 3), interrupted
	var total opStats
	for i, e := range r.cfg.mix {
		var s opStats
		for _, w := range r.workers {
			s.merge(&w.stats[i])
		}
		total.merge(&s)
		res.Operations = append(res.Operations, summarize(e.op.name, &s, elapsed))
	}
	res.Total = summarize("total", &total, elapsed)
	return res, nil
}

// dialAll opens every connection before anything is measured; one that
// cannot be opened fails the run.
func (r *benchRun) dialAll(ctx context.Context) error {
	r.workers = make([]*worker, r.cfg.connections)
	errs := make([]error, len(r.workers))
	var wg sync.WaitGroup
	for i := range r.workers {
		w := &worker{run: r, addr: r.cfg.targets[i%len(r.cfg.targets)], stats: make([]opStats, len(r.cfg.mix)),
			rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}
		r.workers[i] = w
		wg.Go(func() { errs[i] = w.redial(ctx) })
	}
	wg.Wait()
	if firstErr(errs) != nil {
		r.closeAll()
		return firstErr(errs)
	}
	return nil
}

// firstErr is the first non-nil error: the same failure on every
// connection is said once.
func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *benchRun) closeAll() {
	for _, w := range r.workers {
		if w != nil && w.s != nil {
			_ = w.s.Close()
			w.s = nil
		}
	}
}

func (w *worker) redial(ctx context.Context) error {
	cfg := w.run.conn
	cfg.server = w.addr
	ctx, cancel := context.WithTimeout(ctx, w.run.cfg.timeout)
	defer cancel()
	s, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	w.s = s
	return nil
}

// createKeys makes n AES-256 keys, up to --preload-batch items per request
// message, over all connections. With a label the keys are named <prefix>i and a
// progress line carries the label. The ids are returned in name order.
func (r *benchRun) createKeys(ctx context.Context, n int, label string) ([]string, error) {
	// Smaller batches than --preload-batch when there are too few keys to
	// give every connection a full one: a server may run the items of one
	// message one after the other, but messages side by side.
	batch := max(1, min(r.cfg.preloadBatch, (n+len(r.workers)-1)/len(r.workers)))
	ids := make([]string, n)
	var next, done atomic.Int64
	var failed atomic.Bool
	errs := make([]error, len(r.workers))
	line := progressLine{f: r.progress}
	if label == "" {
		line.f = nil
	}
	var last int64
	stop := every(func(time.Duration) {
		d := done.Load()
		line.show("%s: %d/%d keys (%d%%), %d keys/s", label, d, n, d*100/int64(n), d-last)
		last = d
	})
	var wg sync.WaitGroup
	for wi, w := range r.workers {
		wg.Go(func() {
			for !failed.Load() {
				from := int(next.Add(int64(batch))) - batch
				if from >= n {
					return
				}
				to := min(from+batch, n)
				if err := w.createBatch(ctx, ids, from, to, label != ""); err != nil {
					errs[wi] = err
					failed.Store(true)
					return
				}
				done.Add(int64(to - from))
			}
		})
	}
	wg.Wait()
	stop()
	line.end()
	if err := firstErr(errs); err != nil {
		what := "creating the keys for get"
		if label != "" {
			what = label
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s interrupted after %d of %d keys", what, done.Load(), n)
		}
		return nil, fmt.Errorf("%s stopped after %d of %d keys: %w", what, done.Load(), n, err)
	}
	return ids, nil
}

// createBatch creates keys from to to-1 in one request message and
// stores their ids.
func (w *worker) createBatch(ctx context.Context, ids []string, from, to int, named bool) error {
	pls := make([]kmip.OperationPayload, 0, to-from)
	for i := from; i < to; i++ {
		name := ""
		if named {
			name = w.run.cfg.namePrefix + strconv.Itoa(i)
		}
		pls = append(pls, createAES(name))
	}
	ctx, cancel := context.WithTimeout(ctx, w.run.cfg.timeout)
	defer cancel()
	res, err := w.s.batch(ctx, pls...)
	if err != nil {
		return err
	}
	for k, item := range res {
		if item.err != nil {
			return fmt.Errorf("create: %w", item.err)
		}
		created, err := asPayload[*payloads.CreateResponsePayload](item.payload, kmip.OperationCreate)
		if err != nil {
			return err
		}
		ids[from+k] = created.UniqueIdentifier
	}
	return nil
}

// phase decides, for each operation about to start, whether it is
// measured and whether the run goes on.
type phase struct {
	measureFrom time.Time
	until       time.Time // zero with --count
	count       int64     // zero with --duration
	admitted    atomic.Int64
	// completed and failed count measured operations; all counts every
	// operation, warm-up included, for the current rate.
	completed, failed, all atomic.Int64
}

func (p *phase) admit(now time.Time) (measured, goOn bool) {
	switch {
	case now.Before(p.measureFrom):
		return false, true
	case !p.until.IsZero() && !now.Before(p.until):
		return false, false
	case p.count > 0 && p.admitted.Add(1) > p.count:
		return false, false
	}
	return true, true
}

// measure runs the warm-up and the measured phase on every connection. It
// returns the length of the measured phase, from the end of the warm-up
// until the last operation finished, and whether Ctrl-C ended it.
func (r *benchRun) measure(ctx context.Context) (time.Duration, bool) {
	start := time.Now()
	p := &phase{measureFrom: start.Add(r.cfg.warmup), count: r.cfg.count}
	if r.cfg.duration > 0 {
		p.until = p.measureFrom.Add(r.cfg.duration)
	}
	line := progressLine{f: r.progress}
	var lastAll int64
	stop := every(func(time.Duration) {
		all := p.all.Load()
		rate := all - lastAll
		lastAll = all
		if now := time.Now(); now.Before(p.measureFrom) {
			line.show("warm-up: %d ops/s, %s left", rate, durationText(p.measureFrom.Sub(now).Round(time.Second)))
		} else {
			line.show("%s: %d ops, %d ops/s, %d errors", durationText(now.Sub(p.measureFrom)), p.completed.Load(), rate, p.failed.Load())
		}
	})
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() { w.loop(ctx, p) })
	}
	wg.Wait()
	stop()
	line.end()
	return max(time.Since(p.measureFrom), 0), ctx.Err() != nil
}

// loop runs operations one at a time until the phase ends or ctx is done.
// An operation cut short by ctx is not counted.
func (w *worker) loop(ctx context.Context, p *phase) {
	for ctx.Err() == nil {
		start := time.Now()
		measured, goOn := p.admit(start)
		if !goOn {
			return
		}
		i := w.run.cfg.mix.pick(w.rng)
		kind, err := w.do(ctx, w.run.cfg.mix[i].op)
		if ctx.Err() != nil {
			return
		}
		p.all.Add(1)
		if !measured {
			continue
		}
		p.completed.Add(1)
		if err != nil {
			p.failed.Add(1)
			w.stats[i].fail(kind)
		} else {
			w.stats[i].ok++
			w.stats[i].latency.record(time.Since(start))
		}
	}
}

// redialPause keeps a connection that cannot be opened again from
// spinning.
const redialPause = 100 * time.Millisecond

// do runs one operation within --timeout and returns the kind of its
// error. After a transport failure the connection is closed, and it is
// dialed again before the next operation.
func (w *worker) do(ctx context.Context, op *benchOp) (string, error) {
	if w.s == nil {
		if err := w.redial(ctx); err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(redialPause):
			}
			return dialErrKind(err), err
		}
	}
	opCtx, cancel := context.WithTimeout(ctx, w.run.cfg.timeout)
	defer cancel()
	err := op.run(w, opCtx)
	if err == nil {
		return "", nil
	}
	kind, keep := errKind(opCtx, err)
	if !keep {
		_ = w.s.Close()
		w.s = nil
	}
	return kind, err
}

// errKind names an operation's failure for errors_by_kind and says
// whether the connection is still usable: after a KMIP error it is, after
// a timeout or a broken or garbled exchange the next response could
// belong to this request, so it is not.
func errKind(ctx context.Context, err error) (kind string, keep bool) {
	var ke *kmipError
	switch {
	case errors.As(err, &ke):
		if ke.Status != kmip.ResultStatusOperationFailed {
			return enumText(ke.Status), true
		}
		if ke.Reason == 0 {
			return "OperationFailed", true
		}
		return enumText(ke.Reason), true
	case errors.Is(err, errNoMatch):
		return "no-match", true
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout", false
	case strings.Contains(err.Error(), "malformed"):
		// transport.go words every undecodable or unexpected response so.
		return "malformed-response", false
	}
	return "connection", false
}

func dialErrKind(err error) string {
	if strings.HasSuffix(err.Error(), "timed out") {
		return "timeout"
	}
	return "connection"
}
