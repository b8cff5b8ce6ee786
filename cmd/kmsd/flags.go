package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

// commonFlags are shared by dev and serve. Every flag can also come from a
// JSON config file (-config) whose keys are the flag names; the command line
// wins over the file.
type commonFlags struct {
	configFile                                string
	dataDir, nodeID                           string
	kmipAddr, adminAddr, raftAddr, gossipAddr string
	adminAdvertise, raftAdvertise             string
	join, joinToken, joinTokenFile            string
	maxMessageSize                            int
	readConsistency                           string
	logLevel, logFormat                       string
	snapshotThreshold                         uint64
	snapshotInterval                          time.Duration
	trailingLogs                              uint64
	cleanupDeadServers                        bool
	minQuorum                                 uint
	stabilization                             time.Duration
	tlsLegacy                                 bool
	limits                                    limits
	audit                                     auditFlags
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultDataDir string) {
	fs.StringVar(&c.configFile, "config", "", "JSON file of flag values (keys are flag names)")
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "folder for all node state (raft log, snapshots, node key)")
	fs.StringVar(&c.nodeID, "node-id", "", "unique node id; it must be the id the node certificate names (default: that id; kmsd dev: node-1)")
	fs.StringVar(&c.kmipAddr, "kmip-addr", "127.0.0.1:5696", "KMIP listen address (mutual TLS)")
	fs.StringVar(&c.adminAddr, "admin-addr", "127.0.0.1:5697", "gRPC listen address: admin API and node-to-node service (also advertised, unless --admin-advertise)")
	fs.StringVar(&c.raftAddr, "raft-addr", "127.0.0.1:5698", "raft listen address (also advertised, unless --raft-advertise); when its host is an IP address, connections to peers are made from it")
	fs.StringVar(&c.adminAdvertise, "admin-advertise", "", "gRPC address peers dial, when it is not --admin-addr (a NAT, a proxy, a Kubernetes Service)")
	fs.StringVar(&c.raftAdvertise, "raft-advertise", "", "raft address peers dial, when it is not --raft-addr")
	fs.StringVar(&c.gossipAddr, "gossip-addr", "127.0.0.1:5699", "gossip (memberlist) listen and advertise address; empty disables gossip")
	fs.StringVar(&c.join, "join", "", "comma-separated admin addresses of cluster members to join at start")
	fs.StringVar(&c.joinToken, "join-token", "", "one-time join token from `kmsctl cluster token create` (env "+envJoinToken+")")
	fs.StringVar(&c.joinTokenFile, "join-token-file", "", "file holding the join token")
	fs.IntVar(&c.maxMessageSize, "max-message-size", 1<<20, "largest KMIP request accepted, in bytes")
	fs.StringVar(&c.readConsistency, "read-consistency", readLinearizable,
		"linearizable: every KMIP read reflects every write acknowledged before it, on any node (concurrent reads share one leader confirmation); "+
			"stale: reads are answered from this node's state, which may lag (only \"not found\" and Locate are confirmed)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	fs.Uint64Var(&c.snapshotThreshold, "snapshot-threshold", 8192, "log entries between raft snapshots, at least (it grows to half the number of objects stored)")
	fs.Uint64Var(&c.trailingLogs, "snapshot-trailing-logs", 10240, "log entries kept after a snapshot, so that a follower that lags by fewer catches up from the log rather than by a snapshot install")
	fs.DurationVar(&c.snapshotInterval, "snapshot-interval", 10*time.Second, "how often raft checks whether to snapshot")
	fs.BoolVar(&c.cleanupDeadServers, "autopilot-cleanup-dead-servers", false, "remove servers that gossip declares failed")
	fs.UintVar(&c.minQuorum, "autopilot-min-quorum", 3, "never remove dead servers below this many voters")
	fs.DurationVar(&c.stabilization, "autopilot-stabilization", 5*time.Second, "how long a new server must be healthy before it may vote")
	fs.BoolVar(&c.tlsLegacy, "tls-legacy", false, "also accept TLS 1.2 CBC cipher suites (AES-CBC with SHA-1 or SHA-256, RSA or ECDHE key exchange) on the KMIP port, "+
		"for old KMIP clients; the gRPC and Raft ports never do. Default: TLS 1.3, or TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305")
	c.limits.register(fs)
	c.audit.register(fs)
}

// serveFlags are kmsd serve's flags: the common ones, the certificates of
// the three trust domains, the gossip key and bootstrap.
type serveFlags struct {
	commonFlags
	files         tlsFiles
	seal          sealFlags
	gossipKeyFile string
	bootstrap     bool
}

func (s *serveFlags) register(fs *flag.FlagSet) {
	s.commonFlags.register(fs, "")
	s.files.register(fs)
	s.seal.register(fs)
	fs.StringVar(&s.gossipKeyFile, "gossip-key-file", "", "file holding the 32-byte gossip key shared by all nodes")
	fs.BoolVar(&s.bootstrap, "bootstrap", false, "form a new single-voter cluster if this node has no state yet")
}

func (c *commonFlags) config() config {
	var join []string
	for _, a := range strings.Split(c.join, ",") {
		if a = strings.TrimSpace(a); a != "" {
			join = append(join, a)
		}
	}
	return config{
		DataDir: c.dataDir, NodeID: c.nodeID,
		KMIPAddr: c.kmipAddr, AdminAddr: c.adminAddr, RaftAddr: c.raftAddr, GossipAddr: c.gossipAddr,
		AdminAdvertise: c.adminAdvertise, RaftAdvertise: c.raftAdvertise,
		Join:              join,
		JoinToken:         c.joinTokenValue(),
		MaxMessageSize:    c.maxMessageSize,
		ConsistentReads:   c.readConsistency != readStale,
		SnapshotThreshold: c.snapshotThreshold,
		SnapshotInterval:  c.snapshotInterval,
		TrailingLogs:      c.trailingLogs,
		Autopilot: cluster.AutopilotConfig{
			CleanupDeadServers:      c.cleanupDeadServers,
			MinQuorum:               c.minQuorum,
			ServerStabilizationTime: c.stabilization,
		},
		Limits:    c.limits,
		Audit:     c.audit,
		TLSLegacy: c.tlsLegacy,
	}
}

// parseWithConfig parses args, then fills every flag not given on the
// command line from the -config file.
func parseWithConfig(fs *flag.FlagSet, args []string, file *string) error {
	if err := parseArgsAndFile(fs, args, file); err != nil {
		return err
	}
	if f := fs.Lookup("read-consistency"); f != nil && f.Value.String() != readLinearizable && f.Value.String() != readStale {
		return fmt.Errorf("--read-consistency %q: want %s or %s", f.Value.String(), readLinearizable, readStale)
	}
	if err := checkLimits(fs); err != nil {
		return err
	}
	return checkAudit(fs)
}

func parseArgsAndFile(fs *flag.FlagSet, args []string, file *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return nil
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var values map[string]any
	if err := json.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("config file %s: %w", *file, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range values {
		if name == "config" {
			return errors.New("config file: a config file cannot name another")
		}
		if fs.Lookup(name) == nil {
			return fmt.Errorf("config file %s: unknown setting %q", *file, name)
		}
		if set[name] {
			continue
		}
		if err := fs.Set(name, configValue(v)); err != nil {
			return fmt.Errorf("config file %s: %s: %w", *file, name, err)
		}
	}
	return nil
}

func configValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// envJoinToken names the environment variable that may carry the join token.
const envJoinToken = "KMSD_JOIN_TOKEN"

// joinTokenValue is the join token from --join-token, else
// --join-token-file (kmsd serve checks first that it can be read), else
// KMSD_JOIN_TOKEN.
func (c *commonFlags) joinTokenValue() string {
	switch {
	case c.joinToken != "":
		return c.joinToken
	case c.joinTokenFile != "":
		b, err := readSecretFile(c.joinTokenFile)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return os.Getenv(envJoinToken)
}

// Read consistency modes.
const (
	readLinearizable = "linearizable"
	readStale        = "stale"
)
