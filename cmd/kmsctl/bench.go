package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// benchConfig is kmsctl bench's flags after validation.
type benchConfig struct {
	connections  int
	duration     time.Duration // zero with count
	count        int64         // zero with duration
	warmup       time.Duration
	mix          benchMix
	targets      []string
	preload      int
	preloadBatch int
	namePrefix   string
	locateNames  int
	keys         int
	keyPair      keyPairAlg
	timeout      time.Duration // per request
}

// maxBenchBatch is kmsd's limit of batch items in one request message.
const maxBenchBatch = 1000

const benchLong = `Generate KMIP load: --connections TLS connections, each with a goroutine that
sends one request at a time, spread round-robin over --targets (default: --server).

Operations (--mix name=weight,...; weights are relative):
  create           Create an AES-256 key
  register         Register 32 random bytes as Secret Data (type Seed)
  get              Get one of the keys made before the measured phase (--keys),
                   or a preloaded one
  get-attributes   Get Attributes of such a key
  locate           Locate by Name <prefix><i>, i random below --preload or --locate-names
                   (the larger)
  create-key-pair  Create Key Pair (--key-pair-alg, default rsa-2048)
  lifecycle        Create, Activate, Get, Revoke, Destroy: five requests, one operation
  none             no measured phase (with --preload: only fill the server)

Phases: --preload N creates N AES-256 keys named <--name-prefix>0 … <prefix>N-1
(up to --preload-batch Create items per request message, over all connections); keys
for get and get-attributes are then made unless preloaded; then --warmup, whose
operations are not counted; then the measured phase, for --duration (default 10s)
or until --count operations in all. --timeout limits each request, not the run.
A connection that fails (timeout, closed, malformed response) is dialed again.
Ctrl-C ends the measured phase early and prints what was measured.

On a terminal, a progress line on stderr updates once a second (not with -o json).

-o json prints one object:
  targets, connections, mix ("create=1,get=5"), warmup_seconds,
  seconds (length of the measured phase), interrupted (true after Ctrl-C),
  preload: {keys, name_prefix, seconds, keys_per_second} (only with --preload),
  operations: one row per --mix entry, total: the same row over all of them.
A row: op, count (completed operations, successful or not), errors,
  ops_per_second (successful operations per second of the measured phase),
  p50_ms, p99_ms, p999_ms, max_ms, mean_ms (latency of successful operations,
  within 0.8%), errors_by_kind: {kind: count}, where kind is the KMIP Result
  Reason (ItemNotFound, IllegalOperation, ...), timeout, connection,
  malformed-response, or no-match (a Locate of a name that found nothing).`

func newBenchCmd(a *app) *cobra.Command {
	var (
		mix, targets, keyPair string
		cfg                   benchConfig
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure KMIP throughput and latency with many concurrent connections",
		Long:  benchLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := resolveConn(a.flags, a.root.PersistentFlags().Changed, a.getenv)
			if err != nil {
				return err
			}
			cfg.timeout = a.flags.timeout
			if err := cfg.validate(cmd.Flags().Changed, mix, targets, keyPair, conn.server); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r := &benchRun{cfg: cfg, conn: conn, progress: a.progressWriter()}
			res, err := r.run(ctx)
			if err != nil {
				return err
			}
			return a.emit(res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.connections, "connections", 32, "concurrent TLS connections, one request in flight on each")
	f.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured phase")
	f.Int64Var(&cfg.count, "count", 0, "measure this many operations in all, instead of --duration")
	f.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "run this long before measuring; those operations are not counted")
	f.StringVar(&mix, "mix", "create=1", "operations and weights: "+strings.Join(benchOpNames(), ", ")+"; or none")
	f.StringVar(&targets, "targets", "", "KMIP addresses host:port,host:port,... to spread the connections over (default: --server)")
	f.IntVar(&cfg.preload, "preload", 0, "create this many named AES-256 keys before measuring")
	f.IntVar(&cfg.preloadBatch, "preload-batch", 100, "Create items per request message when preloading (1 to 1000)")
	f.StringVar(&cfg.namePrefix, "name-prefix", "bench-", "Name of the preloaded keys: <prefix>0, <prefix>1, ...")
	f.IntVar(&cfg.locateNames, "locate-names", 0, "names <prefix>0 … <prefix>N-1 exist (an earlier --preload made them): locate picks among them")
	f.IntVar(&cfg.keys, "keys", 100, "keys to create for get and get-attributes when there is no --preload")
	f.StringVar(&keyPair, "key-pair-alg", "rsa-2048", "create-key-pair: rsa-<bits> (1024-4096) or ec-p224, ec-p256, ec-p384, ec-p521")
	return cmd
}

// validate checks the flags and fills in the parsed ones. changed reports
// which bench flags were given.
func (c *benchConfig) validate(changed func(string) bool, mix, targets, keyPair, server string) error {
	var err error
	if c.mix, err = parseMix(mix); err != nil {
		return err
	}
	if c.keyPair, err = parseKeyPairAlg(keyPair); err != nil {
		return err
	}
	switch {
	case c.connections < 1:
		return fmt.Errorf("--connections must be at least 1, got %d", c.connections)
	case changed("duration") && changed("count"):
		return errors.New("give either --duration or --count, not both")
	case changed("duration") && c.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %v", c.duration)
	case changed("count") && c.count < 1:
		return fmt.Errorf("--count must be at least 1, got %d", c.count)
	case c.warmup < 0:
		return fmt.Errorf("--warmup must not be negative, got %v", c.warmup)
	case c.preload < 0:
		return fmt.Errorf("--preload must not be negative, got %d", c.preload)
	case c.preloadBatch < 1 || c.preloadBatch > maxBenchBatch:
		return fmt.Errorf("--preload-batch must be from 1 to %d, got %d", maxBenchBatch, c.preloadBatch)
	case c.locateNames < 0:
		return fmt.Errorf("--locate-names must not be negative, got %d", c.locateNames)
	case c.keys < 1 && c.preload == 0 && c.mix.needs()&needKeys != 0:
		return fmt.Errorf("--keys must be at least 1 for get and get-attributes, got %d", c.keys)
	case c.namePrefix == "" && (c.preload > 0 || c.mix.needs()&needNames != 0):
		return errors.New("--name-prefix must not be empty")
	case c.timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %v", c.timeout)
	}
	if c.mix.needs()&needNames != 0 && c.preload == 0 && c.locateNames == 0 {
		return fmt.Errorf("--mix has locate, which looks up names that exist: give --preload N (names %s0 … %sN-1), "+
			"or --locate-names N for the keys an earlier --preload N made", c.namePrefix, c.namePrefix)
	}
	if len(c.mix) == 0 && c.preload == 0 {
		return errors.New("--mix none measures nothing: give --preload N to only fill the server, or operations in --mix")
	}
	if changed("count") {
		c.duration = 0
	}
	c.targets = []string{server}
	if targets != "" {
		c.targets = nil
		for _, t := range strings.Split(targets, ",") {
			t = strings.TrimSpace(t)
			if _, port, err := net.SplitHostPort(t); err != nil || port == "" {
				return fmt.Errorf("invalid --targets entry %q: want host:port, e.g. 127.0.0.1:5696", t)
			}
			c.targets = append(c.targets, t)
		}
	}
	return nil
}

// progressWriter is where bench shows its once-a-second progress line: a
// terminal stderr with table output, else nowhere (only the result).
func (a *app) progressWriter() *os.File {
	f, ok := a.stderr.(*os.File)
	if !ok || a.flags.output == formatJSON || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// progressLine rewrites one line in place on a terminal; with a nil file
// it shows nothing.
type progressLine struct {
	f     *os.File
	shown bool
}

func (p *progressLine) show(format string, args ...any) {
	if p.f == nil {
		return
	}
	fmt.Fprintf(p.f, "\r\033[K"+format, args...)
	p.shown = true
}

func (p *progressLine) end() {
	if p.shown {
		fmt.Fprintln(p.f)
		p.shown = false
	}
}

// every calls f once a second until the returned stop is called.
func every(f func(elapsed time.Duration)) (stop func()) {
	start := time.Now()
	t := time.NewTicker(time.Second)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				f(now.Sub(start))
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
		<-exited
	}
}
