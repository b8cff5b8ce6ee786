package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	// ClusterTimeout bounds the polling helpers: Leader, WaitVoters,
	// WaitDigestsEqual.
	ClusterTimeout = 30 * time.Second
	pollEvery      = 100 * time.Millisecond
	// pollKmsctl is kmsctl's own --timeout in polls, so that a node that
	// does not answer cannot hold a poll for long.
	pollKmsctl = "3s"
)

// DigestKey is the JSON key of the store digest in `kmsctl status -o json`:
// the hex SHA-256 over every object, equal on replicas that applied the
// same log.
const DigestKey = "store_digest"

// Kmsctl runs a KMIP kmsctl command (key create, key get, ...) against node
// i with the client identity. It returns stdout; err carries stderr.
func (c *Cluster) Kmsctl(t testing.TB, i int, args ...string) (string, error) {
	t.Helper()
	return c.Nodes[i].Kmsctl(t, args...)
}

// AdminCtl runs an admin kmsctl command (cluster, snapshot, status) against
// node i's admin address with the admin identity.
func (c *Cluster) AdminCtl(t testing.TB, i int, args ...string) (string, error) {
	t.Helper()
	return c.AdminCtlAs(t, i, c.PKI.AdminCert, c.PKI.AdminKey, args...)
}

// AdminCtlAs is AdminCtl with another certificate and key.
func (c *Cluster) AdminCtlAs(t testing.TB, i int, cert, key string, args ...string) (string, error) {
	t.Helper()
	out, err := runKmsctl(t, c.adminFlags(i, cert, key), args)
	t.Logf("kmsctl --admin %s %s: %v", c.Nodes[i].Name, strings.Join(args, " "), exitStatus(err))
	return out, err
}

func (c *Cluster) adminFlags(i int, cert, key string) []string {
	return []string{"--admin", c.Nodes[i].AdminAddr, "--admin-ca", c.PKI.NodeCA, "--admin-cert", cert, "--admin-key", key}
}

// runKmsctl runs kmsctl with flags, then args.
func runKmsctl(t testing.TB, flags, args []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kmsctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kmsctlBinary(t), append(flags, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", kmsctlTimeout, err)
		}
		return out.String(), fmt.Errorf("kmsctl %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// Status is what `kmsctl status -o json` reports about one node.
type Status struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	LeaderID     string `json:"leader_id"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Objects      int64  `json:"objects"`
	Voters       int    `json:"voters"`
	Members      int    `json:"members"`
	// StoreDigest is the value under DigestKey; HasDigest says whether
	// the key was there at all.
	StoreDigest string `json:"store_digest"`
	HasDigest   bool   `json:"-"`
}

// Status asks node i for its status. It does not log: it is meant for
// polling.
func (c *Cluster) Status(t testing.TB, i int) (Status, error) {
	t.Helper()
	var st Status
	out, err := runKmsctl(t, c.adminFlags(i, c.PKI.AdminCert, c.PKI.AdminKey), []string{"--timeout", pollKmsctl, "status", "-o", "json"})
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("kmsctl status -o json: %w\n%s", err, out)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(out), &keys)
	_, st.HasDigest = keys[DigestKey]
	return st, nil
}

// Member is one entry of `kmsctl cluster members -o json`.
type Member struct {
	ID           string `json:"id"`
	AdminAddress string `json:"admin_address"`
	KMIPAddress  string `json:"kmip_address"`
	Suffrage     string `json:"suffrage"`
	Leader       bool   `json:"leader"`
	Gossip       string `json:"gossip"`
	Healthy      bool   `json:"healthy"`
}

// Members asks node i for the member list (which it gets from the leader).
func (c *Cluster) Members(t testing.TB, i int) ([]Member, error) {
	t.Helper()
	out, err := runKmsctl(t, c.adminFlags(i, c.PKI.AdminCert, c.PKI.AdminKey), []string{"--timeout", pollKmsctl, "cluster", "members", "-o", "json"})
	if err != nil {
		return nil, err
	}
	var r struct {
		Members []Member `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return nil, fmt.Errorf("kmsctl cluster members -o json: %w\n%s", err, out)
	}
	return r.Members, nil
}

// Leader polls the running nodes until one of them reports that it leads
// and no running node reports a later term, and returns its index. It
// fails the test after ClusterTimeout.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	var last string
	deadline := time.Now().Add(ClusterTimeout)
	for {
		leader, maxTerm, leaderTerm := -1, uint64(0), uint64(0)
		var views []string
		for _, i := range c.Running() {
			st, err := c.Status(t, i)
			if err != nil {
				views = append(views, fmt.Sprintf("%s: %v", c.Nodes[i].Name, firstLine(err)))
				continue
			}
			views = append(views, fmt.Sprintf("%s: %s term %d leader %q", c.Nodes[i].Name, st.State, st.Term, st.LeaderID))
			maxTerm = max(maxTerm, st.Term)
			if st.State == "leader" && st.LeaderID == c.ID(i) && st.Term >= leaderTerm {
				leader, leaderTerm = i, st.Term
			}
		}
		if leader >= 0 && leaderTerm == maxTerm {
			return leader
		}
		last = strings.Join(views, "; ")
		if time.Now().After(deadline) {
			t.Fatalf("harness: no leader after %s: %s", ClusterTimeout, last)
		}
		time.Sleep(pollEvery)
	}
}

// Followers returns the running nodes other than leader.
func (c *Cluster) Followers(leader int) []int {
	var out []int
	for _, i := range c.Running() {
		if i != leader {
			out = append(out, i)
		}
	}
	return out
}

// WaitVoters polls `cluster members` through the running nodes until the
// cluster has exactly n members, all of them voters. It fails the test
// after ClusterTimeout.
func (c *Cluster) WaitVoters(t testing.TB, n int) {
	t.Helper()
	var last string
	deadline := time.Now().Add(ClusterTimeout)
	for {
		for _, i := range c.Running() {
			ms, err := c.Members(t, i)
			if err != nil {
				last = fmt.Sprintf("via %s: %v", c.Nodes[i].Name, firstLine(err))
				continue
			}
			voters := 0
			var desc []string
			for _, m := range ms {
				if m.Suffrage == "voter" {
					voters++
				}
				desc = append(desc, m.ID+" "+m.Suffrage)
			}
			if voters == n && len(ms) == n {
				t.Logf("harness: %d voters: %s", n, strings.Join(desc, ", "))
				return
			}
			last = fmt.Sprintf("via %s: %s", c.Nodes[i].Name, strings.Join(desc, ", "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: cluster does not have %d voters after %s; members %s", n, ClusterTimeout, last)
		}
		time.Sleep(pollEvery)
	}
}

// Digests returns the store digest of every node, "" for a node that is
// not running. It fails the test if a node does not answer or if its
// status has no DigestKey.
func (c *Cluster) Digests(t testing.TB) []string {
	t.Helper()
	out := make([]string, len(c.Nodes))
	for _, i := range c.Running() {
		st, err := c.Status(t, i)
		if err != nil {
			t.Fatalf("harness: status of %s: %v", c.Nodes[i].Name, err)
		}
		if !st.HasDigest {
			t.Fatal(c.noDigest(i))
		}
		out[i] = st.StoreDigest
	}
	return out
}

func (c *Cluster) noDigest(i int) string {
	return fmt.Sprintf("harness: `kmsctl status -o json` on %s has no %q key: the node or kmsctl does not report "+
		"the store digest, so replica state cannot be compared", c.Nodes[i].Name, DigestKey)
}

// WaitDigestsEqual polls the given nodes (every running node if none are
// given) until they all report the same store digest, and returns it. It
// fails the test after ClusterTimeout, listing each node's digest and
// applied index.
//
// A status without DigestKey fails the test (once per cluster), but the
// test goes on: the wait then falls back to equal applied indexes and
// object counts, returns "", and the checks after it still run.
func (c *Cluster) WaitDigestsEqual(t testing.TB, nodes ...int) string {
	t.Helper()
	if len(nodes) == 0 {
		nodes = c.Running()
	}
	var last []string
	deadline := time.Now().Add(ClusterTimeout)
	for {
		views := map[string]bool{}
		last = last[:0]
		var common string
		for _, i := range nodes {
			st, err := c.Status(t, i)
			if err != nil {
				last = append(last, fmt.Sprintf("%s: %v", c.Nodes[i].Name, firstLine(err)))
				views["error"] = true
				continue
			}
			if !st.HasDigest && !c.reportedNoDigest {
				c.reportedNoDigest = true
				t.Error(c.noDigest(i))
			}
			view := fmt.Sprintf("digest %q applied %d objects %d", st.StoreDigest, st.AppliedIndex, st.Objects)
			last = append(last, c.Nodes[i].Name+": "+view)
			if st.HasDigest {
				view = st.StoreDigest
			}
			views[view] = true
			common = st.StoreDigest
		}
		if len(views) == 1 && (common != "" || c.reportedNoDigest) {
			return common
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: replicas still differ after %s:\n  %s", ClusterTimeout, strings.Join(last, "\n  "))
		}
		time.Sleep(pollEvery)
	}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		// kmsctl's own message is on stderr, after the first line.
		rest := strings.TrimSpace(s[i+1:])
		if rest != "" {
			return s[:i] + ": " + strings.ReplaceAll(rest, "\n", " ")
		}
		return s[:i]
	}
	return s
}
