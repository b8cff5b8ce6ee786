package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kmsd/kmsd/kmip"
)

// limits bound what clients and peers may cost a node.
type limits struct {
	HandshakeTimeout      time.Duration // TLS handshake on the KMIP, Raft and gRPC ports
	IdleTimeout           time.Duration // KMIP: wait for the first byte of a request
	ReadTimeout           time.Duration // KMIP: a whole request, from its first byte
	RequestTimeout        time.Duration // KMIP: execute one request message
	WriteTimeout          time.Duration // KMIP: write one response
	MaxConns              int
	MaxConnsPerClient     int
	RateLimit             float64 // batch items per second per client identity; 0: none
	RateBurst             int     // 0: twice RateLimit
	MaxKeyPairGenerations int
	LocateMaxItems        int
}

// limitFlags are the flags of limits; positive ones must be above zero,
// the others at least zero.
var limitFlags = []struct {
	name     string
	positive bool
}{
	{"handshake-timeout", true},
	{"kmip-idle-timeout", true},
	{"kmip-read-timeout", true},
	{"kmip-request-timeout", true},
	{"kmip-write-timeout", true},
	{"kmip-max-conns", true},
	{"kmip-max-conns-per-client", true},
	{"kmip-rate-limit", false},
	{"kmip-rate-burst", false},
	{"kmip-max-keypair-generations", true},
	{"kmip-locate-max-items", true},
}

func (l *limits) register(fs *flag.FlagSet) {
	fs.DurationVar(&l.HandshakeTimeout, "handshake-timeout", 10*time.Second, "a connection to the KMIP, Raft or gRPC port that has not completed its TLS handshake by then is closed")
	fs.DurationVar(&l.IdleTimeout, "kmip-idle-timeout", 5*time.Minute, "a KMIP connection that sends no byte of a next request for this long is closed")
	fs.DurationVar(&l.ReadTimeout, "kmip-read-timeout", 30*time.Second, "a KMIP request must arrive whole within this time of its first byte, or the connection is closed")
	fs.DurationVar(&l.RequestTimeout, "kmip-request-timeout", 30*time.Second, "deadline for executing one KMIP request message; batch items left when it passes answer General Failure")
	fs.DurationVar(&l.WriteTimeout, "kmip-write-timeout", 30*time.Second, "a KMIP response not written within this time closes the connection")
	fs.IntVar(&l.MaxConns, "kmip-max-conns", kmip.DefaultMaxConns, "KMIP connections open at once; one more is closed when accepted, before TLS")
	fs.IntVar(&l.MaxConnsPerClient, "kmip-max-conns-per-client", kmip.DefaultMaxConnsPerClient, "KMIP connections of one client identity; one more is closed right after its TLS handshake")
	fs.Float64Var(&l.RateLimit, "kmip-rate-limit", 0, "KMIP batch items per second each client identity may run (token bucket, all its connections together); 0: no limit")
	fs.IntVar(&l.RateBurst, "kmip-rate-burst", 0, "bucket size of --kmip-rate-limit; 0: twice the rate")
	fs.IntVar(&l.MaxKeyPairGenerations, "kmip-max-keypair-generations", kmip.DefaultMaxKeyPairGenerations(), "key-pair generations (Create Key Pair) running at once, half the CPUs unless set; others wait within their request's deadline")
	fs.IntVar(&l.LocateMaxItems, "kmip-locate-max-items", kmip.DefaultLocateMaxItems, "most identifiers one Locate returns, whatever Maximum Items the client gives")
}

// checkLimits refuses limits that are negative, or zero where zero would
// mean no bound.
func checkLimits(fs *flag.FlagSet) error {
	for _, lf := range limitFlags {
		f := fs.Lookup(lf.name)
		if f == nil {
			continue
		}
		var v float64
		switch x := f.Value.(flag.Getter).Get().(type) {
		case time.Duration:
			v = float64(x)
		case int:
			v = float64(x)
		case float64:
			v = x
		}
		if v < 0 || lf.positive && v == 0 {
			want := "at least 0"
			if lf.positive {
				want = "above 0"
			}
			return fmt.Errorf("--%s %s: must be %s", lf.name, f.Value.String(), want)
		}
	}
	return nil
}

// serverConfig is the KMIP listener's part of the limits.
func (l limits) serverConfig() kmip.ServerConfig {
	return kmip.ServerConfig{
		HandshakeTimeout:  l.HandshakeTimeout,
		IdleTimeout:       l.IdleTimeout,
		ReadTimeout:       l.ReadTimeout,
		RequestTimeout:    l.RequestTimeout,
		WriteTimeout:      l.WriteTimeout,
		MaxConns:          l.MaxConns,
		MaxConnsPerClient: l.MaxConnsPerClient,
	}
}

// settings are the limits as config file values, for the nodes that
// kmsd dev --nodes starts.
func (l limits) settings() map[string]any {
	return map[string]any{
		"handshake-timeout":            l.HandshakeTimeout.String(),
		"kmip-idle-timeout":            l.IdleTimeout.String(),
		"kmip-read-timeout":            l.ReadTimeout.String(),
		"kmip-request-timeout":         l.RequestTimeout.String(),
		"kmip-write-timeout":           l.WriteTimeout.String(),
		"kmip-max-conns":               l.MaxConns,
		"kmip-max-conns-per-client":    l.MaxConnsPerClient,
		"kmip-rate-limit":              l.RateLimit,
		"kmip-rate-burst":              l.RateBurst,
		"kmip-max-keypair-generations": l.MaxKeyPairGenerations,
		"kmip-locate-max-items":        l.LocateMaxItems,
	}
}
