package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// devNode is one process of a local development cluster.
type devNode struct {
	name, dir, config, log    string
	cert                      string // node certificate
	joinToken                 string // one-time token for its first start
	kmip, admin, raft, gossip string
	cmd                       *exec.Cmd
	exited                    chan struct{}
}

// portStep separates the ports of consecutive nodes.
const portStep = 10

// runDevCluster starts n kmsd processes on loopback that form one cluster:
// node-1 bootstraps, the others join it. Each node gets a config file, so
// any one of them can be stopped and started again by hand.
// Each node has a certificate of the node CA that names its id; host goes
// into its SANs.
func runDevCluster(ctx context.Context, c commonFlags, n int, pki devpki.Paths, host string, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	nodes := make([]*devNode, n)
	for i := range nodes {
		if nodes[i], err = writeDevNode(c, i, pki, host); err != nil {
			return err
		}
	}
	clientTLS, err := devpki.ClientTLS(pki.CACert, pki.ClientCert, pki.ClientKey)
	if err != nil {
		return err
	}
	defer stopDevNodes(nodes, stderr)
	// The first node must lead before the others can join it.
	for i, dn := range nodes {
		if i > 0 {
			if dn.joinToken, err = devJoinToken(ctx, pki, nodes[0].admin, dn.dir); err != nil {
				return err
			}
		}
		if err := dn.start(exe); err != nil {
			return err
		}
		if i == 0 || i == len(nodes)-1 {
			for _, w := range nodes[:i+1] {
				if err := w.waitReady(ctx, clientTLS); err != nil {
					return err
				}
			}
		}
	}
	if err := devAuthority(ctx, pki, nodes[0].admin); err != nil {
		return err
	}
	printClusterBanner(stdout, c.dataDir, pki, nodes, exe)
	<-ctx.Done()
	return nil
}

func writeDevNode(c commonFlags, i int, pki devpki.Paths, host string) (*devNode, error) {
	name := fmt.Sprintf("node-%d", i+1)
	dir := filepath.Join(c.dataDir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cert, key, err := devpki.EnsureNode(pki, name, host)
	if err != nil {
		return nil, fmt.Errorf("development PKI: %w", err)
	}
	dn := &devNode{name: name, dir: dir, cert: cert, config: filepath.Join(dir, "kmsd.json"), log: filepath.Join(dir, "kmsd.log")}
	for _, p := range []struct {
		dst  *string
		base string
	}{{&dn.kmip, c.kmipAddr}, {&dn.admin, c.adminAddr}, {&dn.raft, c.raftAddr}, {&dn.gossip, c.gossipAddr}} {
		if *p.dst, err = shiftPort(p.base, i*portStep); err != nil {
			return nil, err
		}
	}
	first, err := shiftPort(c.adminAddr, 0)
	if err != nil {
		return nil, err
	}
	settings := map[string]any{
		"data-dir": dir, "node-id": name,
		"kmip-addr": dn.kmip, "admin-addr": dn.admin, "raft-addr": dn.raft, "gossip-addr": dn.gossip,
		"tls-cert": pki.ServerCert, "tls-key": pki.ServerKey, "client-ca": pki.CACert,
		"admin-ca": pki.AdminCACert, "node-ca": pki.NodeCACert, "node-cert": cert, "node-key": key,
		"gossip-key-file": pki.GossipKey,
		"log-level":       c.logLevel, "log-format": c.logFormat,
		"read-consistency":        c.readConsistency,
		"tls-legacy":              c.tlsLegacy,
		"autopilot-stabilization": c.stabilization.String(),
	}
	maps.Copy(settings, c.limits.settings())
	maps.Copy(settings, c.audit.settings())
	if i == 0 {
		settings["bootstrap"] = true
	} else {
		settings["join"] = first
	}
	data, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return nil, err
	}
	return dn, os.WriteFile(dn.config, append(data, '\n'), 0o600)
}

func shiftPort(addr string, by int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return "", fmt.Errorf("address %q needs a fixed port for a dev cluster", addr)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+by)), nil
}

func (dn *devNode) start(exe string) error {
	logf, err := os.OpenFile(dn.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	dn.cmd = exec.Command(exe, "serve", "--config", dn.config)
	if dn.joinToken != "" {
		dn.cmd.Env = append(os.Environ(), envJoinToken+"="+dn.joinToken)
	}
	dn.cmd.Stdout, dn.cmd.Stderr = logf, logf
	dn.cmd.SysProcAttr = childAttrs()
	if err := dn.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", dn.name, err)
	}
	dn.exited = make(chan struct{})
	go func() {
		_ = dn.cmd.Wait()
		logf.Close()
		close(dn.exited)
	}()
	return nil
}

// waitReady polls until the node completes a KMIP TLS handshake, which it
// does only once it serves.
func (dn *devNode) waitReady(ctx context.Context, clientTLS *tls.Config) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-dn.exited:
			return fmt.Errorf("%s exited during start; see %s", dn.name, dn.log)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", dn.kmip, clientTLS)
		if err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after 2 minutes; see %s", dn.name, dn.log)
}

func stopDevNodes(nodes []*devNode, stderr io.Writer) {
	var wg sync.WaitGroup
	for _, dn := range nodes {
		if dn == nil || dn.cmd == nil || dn.cmd.Process == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = dn.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-dn.exited:
			case <-time.After(15 * time.Second):
				fmt.Fprintf(stderr, "kmsd dev: %s did not stop; killing it\n", dn.name)
				_ = dn.cmd.Process.Kill()
				<-dn.exited
			}
		}()
	}
	wg.Wait()
}

func printClusterBanner(w io.Writer, dataDir string, pki devpki.Paths, nodes []*devNode, exe string) {
	run := exe
	if strings.Contains(exe, "go-build") {
		run = "go run ./cmd/kmsd"
	}
	fmt.Fprintf(w, "kmsd dev: %d-node cluster ready (press Ctrl-C to stop every node)\n  data dir  %s\n"+
		"  KMIP CA   %s (KMIP clients trust it)\n  client    %s, %s\n"+
		"  admin CA  %s\n  admin     %s, %s\n"+
		"  node CA   %s (the admin ports present node certificates)\n"+
		"  seal      file (each node's seal.json and unseal.key; nodes 2.. joined with one-time join tokens)\n"+
		"  policy    until one is set, each client certificate is a tenant of its own with the role user (kmsctl policy list)\n"+
		"  audit     audit.log in each node's data dir unless --audit-file off (kmsctl audit verify <file>)\n\n",
		len(nodes), dataDir, pki.CACert, pki.ClientCert, pki.ClientKey, pki.AdminCACert, pki.AdminCert, pki.AdminKey, pki.NodeCACert)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tPID\tKMIP\tADMIN\tCERTIFICATE\tLOG")
	for _, dn := range nodes {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", dn.name, dn.cmd.Process.Pid, dn.kmip, dn.admin, dn.cert, dn.log)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTo run one node by hand, stop it (kill <pid>) and start it again with:\n")
	for _, dn := range nodes {
		fmt.Fprintf(w, "  %s serve --config %s\n", run, dn.config)
	}
	fmt.Fprintf(w, "\nTry it:\n  go run ./cmd/kmsctl --dev-dir %s --admin %s cluster members\n  go run ./cmd/kmsctl --dev-dir %s --server %s key create --alg AES --length 256 --name demo\n",
		dataDir, nodes[0].admin, dataDir, nodes[len(nodes)-1].kmip)
}
