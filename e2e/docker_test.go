package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/e2e/harness"
)

// The docker test builds deploy/Dockerfile from static binaries, runs a
// three-node cluster in containers on a private bridge network of its own,
// and talks to it from the host through ports published on 127.0.0.1 only.
// Every name it creates (image tag, network, containers) carries a random
// run id, and t.Cleanup removes them all.
const (
	// dockerUID is the image's USER: files mounted into the containers
	// must belong to it (when the test runs as root) or the containers run
	// as the caller (when it does not).
	dockerUID          = 65532
	dockerLabel        = "kmsd-e2e-docker"
	dockerCmdTimeout   = 3 * time.Minute // one docker or go build command
	dockerReadyTimeout = 60 * time.Second
	dockerFailover     = 30 * time.Second
	dockerPoll         = 250 * time.Millisecond
	dockerKmsctlLimit  = "5s" // kmsctl --timeout in every call
)

// dockerEnv is what one TestDockerCluster run made.
type dockerEnv struct {
	run     string // random id in every name below
	image   string
	network string
	subnet  *net.IPNet
	kmsctl  string // the static kmsctl that went into the image, run on the host
	devDir  string // parent of the PKI: kmsctl --dev-dir
	pki     dockerPKI
	user    string // docker run --user, or "" for the image's own
}

// dockerNode is one kmsd container.
type dockerNode struct {
	id        string // node id and --hostname: node-1, ...
	container string
	ip        net.IP
	// kmip and admin are the published ports on the host, 127.0.0.1:port.
	kmip, admin string
}

// dockerStatus is the part of `kmsctl status -o json` the test reads.
type dockerStatus struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	LeaderID string `json:"leader_id"`
	Term     uint64 `json:"term"`
	Voters   int    `json:"voters"`
	Objects  int64  `json:"objects"`
}

func TestDockerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the Docker cluster test in -short mode: it builds an image and runs three containers")
	}
	requireDocker(t)
	began := time.Now()
	env := newDockerEnv(t)
	t.Logf("image %s and network %s (%s) ready after %s", env.image, env.network, env.subnet, time.Since(began).Round(time.Millisecond))

	nodes := make([]*dockerNode, 3)
	for i := range nodes {
		ip := hostIP(env.subnet, 11+i)
		nodes[i] = &dockerNode{id: "node-" + strconv.Itoa(i+1), container: "kmsd-e2e-" + env.run + "-node-" + strconv.Itoa(i+1), ip: ip}
	}
	env.pki = writeDockerPKI(t, filepath.Join(env.devDir, "pki"), nodes)
	env.chownForContainers(t, env.pki.Dir)

	// node-1 forms the cluster; the others join it through its admin port.
	env.start(t, nodes[0], nil)
	env.waitFor(t, dockerReadyTimeout, "node-1 to lead", func() error { return env.isLeader(nodes[0]) })
	env.start(t, nodes[1], nodes[0])
	env.start(t, nodes[2], nodes[0])
	for _, n := range nodes {
		env.waitFor(t, dockerReadyTimeout, n.id+" to serve KMIP", func() error {
			_, err := env.kmip(n, "key", "locate", "--max", "1")
			return err
		})
	}
	env.waitFor(t, dockerReadyTimeout, "three voters", func() error { return env.hasVoters(nodes, 3) })
	t.Logf("three nodes serving after %s", time.Since(began).Round(time.Millisecond))

	// A key made through node-1 is readable, with the same material,
	// through the two others at once (read-your-writes across nodes).
	id := env.createKey(t, nodes[0], "docker-before-failover")
	material := env.getKey(t, nodes[0], id)
	for _, n := range nodes[1:] {
		if got := env.getKey(t, n, id); got != material {
			t.Fatalf("%s: key %s material %s, node-1 returned %s", n.id, id, got, material)
		}
	}

	leader := env.leader(t, nodes)
	old := env.status(t, nodes[leader])
	env.docker(t, "kill", nodes[leader].container)
	t.Logf("killed the leader %s (term %d) after %s", nodes[leader].id, old.Term, time.Since(began).Round(time.Millisecond))
	survivors := slices.Delete(slices.Clone(nodes), leader, leader+1)
	env.waitFor(t, dockerFailover, "a new leader", func() error { return env.newLeader(t, survivors, old.Term) })

	for _, n := range survivors {
		if got := env.getKey(t, n, id); got != material {
			t.Fatalf("%s after failover: key %s material %s, want %s", n.id, id, got, material)
		}
	}
	// A create through each survivor (one of them forwards to the new
	// leader) is readable through the other.
	for i, n := range survivors {
		other := survivors[1-i]
		newID := env.createKey(t, n, "docker-after-failover-"+n.id)
		if a, b := env.getKey(t, n, newID), env.getKey(t, other, newID); a != b {
			t.Fatalf("key %s: material %s on %s, %s on %s", newID, a, n.id, b, other.id)
		}
	}
	t.Logf("done after %s", time.Since(began).Round(time.Millisecond))
}

// requireDocker skips the test when no Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("skipping: no docker command in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("skipping: no Docker engine answers (docker info: %v: %s)", err, firstLineOf(string(out)))
	}
}

// newDockerEnv builds the static binaries and the image, creates the
// network, and registers their removal.
func newDockerEnv(t *testing.T) *dockerEnv {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	env := &dockerEnv{run: hex.EncodeToString(b[:]), devDir: t.TempDir()}
	if os.Geteuid() != 0 {
		// Without root the test cannot hand its files to uid 65532, so
		// the containers run as the caller instead.
		env.user = strconv.Itoa(os.Geteuid()) + ":" + strconv.Itoa(os.Getegid())
	}
	buildCtx := t.TempDir()
	env.buildBinaries(t, buildCtx)
	env.kmsctl = filepath.Join(buildCtx, "kmsctl")
	env.buildImage(t, buildCtx)
	env.createNetwork(t)
	return env
}

func (env *dockerEnv) buildBinaries(t *testing.T, dir string) {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+string(filepath.Separator), "./cmd/kmsd", "./cmd/kmsctl")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The Dockerfile copies an empty data folder to /data, owned by the
	// image's user.
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
}

func (env *dockerEnv) buildImage(t *testing.T, dir string) {
	t.Helper()
	env.image = "kmsd-e2e:" + env.run
	t.Cleanup(func() { env.dockerQuiet(t, "rmi", "--force", env.image) })
	env.docker(t, "build", "--quiet", "--label", dockerLabel+"="+env.run, "--tag", env.image, dir)

	var cfg struct {
		User         string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
	}
	out := env.docker(t, "image", "inspect", "--format", "{{json .Config}}", env.image)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("image config: %v\n%s", err, out)
	}
	if cfg.User != "65532:65532" || !slices.Equal(cfg.Entrypoint, []string{"/kmsd"}) {
		t.Errorf("image user %q, entrypoint %q; want 65532:65532 and [/kmsd]", cfg.User, cfg.Entrypoint)
	}
	for _, p := range []string{"5696/tcp", "5697/tcp", "5698/tcp", "5699/tcp", "5699/udp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("image does not expose %s (exposes %v)", p, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("image volumes %v, want /data", cfg.Volumes)
	}
}

// createNetwork creates a bridge network on a 172.30.X.0/24 subnet that no
// existing network and no host interface uses.
func (env *dockerEnv) createNetwork(t *testing.T) {
	t.Helper()
	taken := env.usedSubnets(t)
	env.network = "kmsd-e2e-" + env.run
	start, _ := strconv.ParseUint(env.run[:2], 16, 8) // spreads concurrent runs
	var lastErr error
	tries := 0
	for k := range 256 {
		_, subnet, _ := net.ParseCIDR(fmt.Sprintf("172.30.%d.0/24", (int(start)+k)%256))
		if slices.ContainsFunc(taken, func(n *net.IPNet) bool { return n.Contains(subnet.IP) || subnet.Contains(n.IP) }) {
			continue
		}
		// Another run may take the subnet between the listing and now:
		// docker then refuses the overlap, and the next one is tried.
		if _, lastErr = env.dockerErr("network", "create", "--driver", "bridge", "--subnet", subnet.String(),
			"--label", dockerLabel+"="+env.run, env.network); lastErr == nil {
			env.subnet = subnet
			t.Cleanup(func() { env.dockerQuiet(t, "network", "rm", env.network) })
			return
		}
		if tries++; tries == 5 {
			break
		}
	}
	t.Fatalf("no free 172.30.X.0/24 subnet for a docker network (last error: %v)", lastErr)
}

// usedSubnets lists the subnets of every docker network and host interface.
func (env *dockerEnv) usedSubnets(t *testing.T) []*net.IPNet {
	t.Helper()
	var nets []*net.IPNet
	ids := strings.Fields(env.docker(t, "network", "ls", "--quiet"))
	if len(ids) > 0 {
		out := env.docker(t, append([]string{"network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, ids...)...)
		for _, s := range strings.Fields(out) {
			if _, n, err := net.ParseCIDR(s); err == nil {
				nets = append(nets, n)
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			nets = append(nets, &net.IPNet{IP: n.IP.Mask(n.Mask), Mask: n.Mask})
		}
	}
	return nets
}

func hostIP(subnet *net.IPNet, host int) net.IP {
	ip := slices.Clone(subnet.IP.To4())
	ip[3] = byte(host)
	return ip
}

// start writes the node's config and data folders and runs its container.
// via is the member the node joins, with a join token created through it;
// nil for node-1, which bootstraps.
func (env *dockerEnv) start(t *testing.T, n *dockerNode, via *dockerNode) {
	t.Helper()
	dir := t.TempDir()
	etc, data := filepath.Join(dir, "etc"), filepath.Join(dir, "data")
	for _, d := range []string{etc, data} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ip := n.ip.String()
	// kmsd advertises what it binds, so each address is the container's
	// own IP on the test network, not 0.0.0.0.
	cfg := map[string]any{
		"node-id": n.id, "data-dir": "/data",
		"kmip-addr": ip + ":5696", "admin-addr": ip + ":5697", "raft-addr": ip + ":5698", "gossip-addr": ip + ":5699",
		"tls-cert": "/pki/server.pem", "tls-key": "/pki/server.key", "client-ca": "/pki/ca.pem",
		"admin-ca": "/pki/admin-ca.pem", "node-ca": "/pki/node-ca.pem",
		"node-cert": "/pki/nodes/" + n.id + ".pem", "node-key": "/pki/nodes/" + n.id + ".key",
		"gossip-key-file": "/pki/gossip.key",
		// Promote joined servers to voters after 1s instead of 5s.
		"autopilot-stabilization": "1s",
	}
	if via == nil {
		cfg["bootstrap"] = true
	} else {
		cfg["join"] = net.JoinHostPort(via.ip.String(), "5697")
		out, err := env.admin(via, "cluster", "token", "create")
		var tok struct {
			Token string `json:"token"`
		}
		if err != nil || json.Unmarshal([]byte(out), &tok) != nil || tok.Token == "" {
			t.Fatalf("join token through %s: %q, %v", via.id, out, err)
		}
		cfg["join-token"] = tok.Token
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "kmsd.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	env.chownForContainers(t, etc)
	env.chownForContainers(t, data)

	t.Cleanup(func() { env.removeContainer(t, n) })
	args := []string{"run", "--detach", "--name", n.container, "--hostname", n.id,
		"--label", dockerLabel + "=" + env.run,
		"--network", env.network, "--ip", ip,
		// As deploy/docker-compose.yml runs it: nothing to write but
		// /data, no capabilities.
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--publish", "127.0.0.1::5696", "--publish", "127.0.0.1::5697",
		"--volume", etc + ":/etc/kmsd:ro", "--volume", env.pki.Dir + ":/pki:ro", "--volume", data + ":/data"}
	if env.user != "" {
		args = append(args, "--user", env.user)
	}
	env.docker(t, append(args, env.image)...) // the image's CMD: serve --config /etc/kmsd/kmsd.json
	n.kmip = env.publishedPort(t, n, "5696/tcp")
	n.admin = env.publishedPort(t, n, "5697/tcp")
	t.Logf("%s: container %s at %s, KMIP on %s, admin on %s", n.id, n.container, ip, n.kmip, n.admin)
}

// chownForContainers gives a folder tree to the image's user when the test
// runs as root; otherwise the containers run as the caller (env.user).
func (env *dockerEnv) chownForContainers(t *testing.T, dir string) {
	t.Helper()
	if env.user != "" {
		return
	}
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, dockerUID, dockerUID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (env *dockerEnv) publishedPort(t *testing.T, n *dockerNode, port string) string {
	t.Helper()
	out := env.docker(t, "port", n.container, port)
	for _, line := range strings.Split(out, "\n") {
		if addr := strings.TrimSpace(line); strings.HasPrefix(addr, "127.0.0.1:") {
			return addr
		}
	}
	t.Fatalf("%s: no 127.0.0.1 binding of %s in %q", n.id, port, out)
	return ""
}

// removeContainer logs the container's output if the test failed, then
// removes it.
func (env *dockerEnv) removeContainer(t *testing.T, n *dockerNode) {
	if t.Failed() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "logs", "--timestamps", n.container).CombinedOutput()
		t.Logf("docker logs %s (%s): %v\n%s", n.container, n.id, err, out)
	}
	env.dockerQuiet(t, "rm", "--force", "--volumes", n.container)
}

// kmip runs a KMIP kmsctl command against the node's published KMIP port
// with the client certificate.
func (env *dockerEnv) kmip(n *dockerNode, args ...string) (string, error) {
	return env.runKmsctl(append([]string{"--server", n.kmip}, args...))
}

// admin runs an admin kmsctl command against the node's published admin
// port with the admin certificate.
func (env *dockerEnv) admin(n *dockerNode, args ...string) (string, error) {
	return env.runKmsctl(append([]string{"--admin", n.admin}, args...))
}

func (env *dockerEnv) runKmsctl(args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{"--dev-dir", env.devDir, "--timeout", dockerKmsctlLimit, "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, env.kmsctl, full...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kmsctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

func (env *dockerEnv) createKey(t *testing.T, n *dockerNode, name string) string {
	t.Helper()
	out, err := env.kmip(n, "key", "create", "--alg", "AES", "--length", "256", "--name", name)
	if err != nil {
		t.Fatalf("%s: %v", n.id, err)
	}
	var r struct{ ID string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID == "" {
		t.Fatalf("%s: key create printed %q (%v)", n.id, out, err)
	}
	t.Logf("%s: created key %s (%s)", n.id, r.ID, name)
	return r.ID
}

// getKey returns the key material as hex.
func (env *dockerEnv) getKey(t *testing.T, n *dockerNode, id string) string {
	t.Helper()
	out, err := env.kmip(n, "key", "get", id)
	if err != nil {
		t.Fatalf("%s: %v", n.id, err)
	}
	var r struct {
		Material string `json:"material_hex"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Material) != 64 {
		t.Fatalf("%s: key get %s printed %q (%v); want 32 bytes of material", n.id, id, out, err)
	}
	return r.Material
}

func (env *dockerEnv) statusErr(n *dockerNode) (dockerStatus, error) {
	var st dockerStatus
	out, err := env.admin(n, "status")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("kmsctl status: %w: %q", err, out)
	}
	return st, nil
}

func (env *dockerEnv) status(t *testing.T, n *dockerNode) dockerStatus {
	t.Helper()
	st, err := env.statusErr(n)
	if err != nil {
		t.Fatalf("%s: %v", n.id, err)
	}
	return st
}

func (env *dockerEnv) isLeader(n *dockerNode) error {
	st, err := env.statusErr(n)
	if err == nil && st.State != "leader" {
		err = fmt.Errorf("%s is %s", n.id, st.State)
	}
	return err
}

// hasVoters checks that every node sees want voters and the same leader.
func (env *dockerEnv) hasVoters(nodes []*dockerNode, want int) error {
	leaders := map[string]bool{}
	for _, n := range nodes {
		st, err := env.statusErr(n)
		if err != nil {
			return err
		}
		if st.Voters != want || st.LeaderID == "" {
			return fmt.Errorf("%s sees %d voters and leader %q", n.id, st.Voters, st.LeaderID)
		}
		leaders[st.LeaderID] = true
	}
	if len(leaders) != 1 {
		return fmt.Errorf("the nodes name different leaders: %v", leaders)
	}
	return nil
}

// leader returns the index of the node that reports it leads.
func (env *dockerEnv) leader(t *testing.T, nodes []*dockerNode) int {
	t.Helper()
	for i, n := range nodes {
		if env.status(t, n).State == "leader" {
			return i
		}
	}
	t.Fatal("no node reports that it leads")
	return -1
}

// newLeader checks that one of nodes leads in a term after oldTerm and the
// others follow it.
func (env *dockerEnv) newLeader(t *testing.T, nodes []*dockerNode, oldTerm uint64) error {
	var leader string
	var followers []dockerStatus
	for _, n := range nodes {
		st, err := env.statusErr(n)
		if err != nil {
			return err
		}
		if st.State == "leader" && st.Term > oldTerm {
			leader = st.ID
		} else {
			followers = append(followers, st)
		}
	}
	if leader == "" {
		return errors.New("no survivor leads in a new term")
	}
	for _, st := range followers {
		if st.LeaderID != leader {
			return fmt.Errorf("%s follows %q, not %s", st.ID, st.LeaderID, leader)
		}
	}
	t.Logf("new leader %s", leader)
	return nil
}

// waitFor polls check until it returns nil, failing the test after timeout.
func (env *dockerEnv) waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	began := time.Now()
	for {
		err := check()
		if err == nil {
			t.Logf("waited %s for %s", time.Since(began).Round(time.Millisecond), what)
			return
		}
		if time.Since(began) > timeout {
			t.Fatalf("waited %s for %s: %v", timeout, what, err)
		}
		time.Sleep(dockerPoll)
	}
}

// docker runs a docker command and returns its output, failing the test on
// an error.
func (env *dockerEnv) docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := env.dockerErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (env *dockerEnv) dockerErr(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// dockerQuiet runs a cleanup command and logs a failure: what it removes
// does not decide the test's outcome.
func (env *dockerEnv) dockerQuiet(t *testing.T, args ...string) {
	if _, err := env.dockerErr(args...); err != nil {
		t.Logf("cleanup: %v", err)
	}
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// TestDeployConfigs checks the example configs in deploy/: kmsd accepts
// every key as a `kmsd serve` flag (it stops at the missing certificates,
// not at the file), each cluster has exactly one bootstrapping node that the
// others join, and the compose file gives each node the address its config
// binds.
func TestDeployConfigs(t *testing.T) {
	kmsd, _ := harness.Binaries(t)
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join(root, "deploy", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct{ name, glob string }{
		{"examples", "deploy/examples/node*.json"},
		{"compose", "deploy/compose/node-*/kmsd.json"},
	} {
		t.Run(set.name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(root, set.glob))
			if err != nil || len(files) != 3 {
				t.Fatalf("%s: %d files (%v), want 3", set.glob, len(files), err)
			}
			var bootstrap []string
			var first string // node-1's admin address
			joins := map[string][]string{}
			for i, f := range files {
				cfg := readDeployConfig(t, f)
				checkServeAccepts(t, kmsd, f)
				if cfg.Bootstrap {
					bootstrap = append(bootstrap, f)
				}
				if i == 0 {
					first = cfg.AdminAddr
				} else {
					joins[f] = cfg.Join
				}
				host, _, err := net.SplitHostPort(cfg.KMIPAddr)
				if err != nil {
					t.Fatalf("%s: kmip-addr: %v", f, err)
				}
				for _, a := range []string{cfg.AdminAddr, cfg.RaftAddr, cfg.GossipAddr} {
					if h, _, err := net.SplitHostPort(a); err != nil || h != host {
						t.Errorf("%s: address %q is not on the KMIP host %s", f, a, host)
					}
				}
				if set.name == "compose" && !strings.Contains(string(compose), "ipv4_address: "+host+"\n") {
					t.Errorf("%s binds %s, which docker-compose.yml gives no node", f, host)
				}
			}
			if len(bootstrap) != 1 || bootstrap[0] != files[0] {
				t.Errorf("bootstrapping nodes %v, want only %s", bootstrap, files[0])
			}
			for f, join := range joins {
				if !slices.Equal(join, []string{first}) {
					t.Errorf("%s joins %v, want [%s] (node 1's admin address)", f, join, first)
				}
			}
		})
	}
}

// deployConfig is the part of a kmsd config file TestDeployConfigs checks.
type deployConfig struct {
	KMIPAddr   string   `json:"kmip-addr"`
	AdminAddr  string   `json:"admin-addr"`
	RaftAddr   string   `json:"raft-addr"`
	GossipAddr string   `json:"gossip-addr"`
	Bootstrap  bool     `json:"bootstrap"`
	Join       []string `json:"-"` // a list or one comma-separated string
}

func readDeployConfig(t *testing.T, file string) deployConfig {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	var cfg deployConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// join may be a list or one comma-separated string.
	if j, ok := raw["join"]; ok {
		var s string
		if json.Unmarshal(j, &s) == nil {
			cfg.Join = strings.Split(s, ",")
		} else if err := json.Unmarshal(j, &cfg.Join); err != nil {
			t.Fatalf("%s: join: %v", file, err)
		}
	}
	return cfg
}

// checkServeAccepts runs `kmsd serve --config file`: with no certificates
// at the paths the file names, kmsd must fail on them, after it accepted
// every setting.
func checkServeAccepts(t *testing.T, kmsd, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kmsd, "serve", "--config", file).CombinedOutput()
	switch {
	case err == nil:
		t.Errorf("kmsd serve --config %s started without its certificates", file)
	case strings.Contains(string(out), "config file"):
		t.Errorf("kmsd serve --config %s rejects the file: %s", file, firstLineOf(string(out)))
	case !strings.Contains(string(out), "TLS"):
		t.Errorf("kmsd serve --config %s: %s; want a failure to load the certificates", file, firstLineOf(string(out)))
	}
}
