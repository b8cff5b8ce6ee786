package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// devNodeID is the node id of a single `kmsd dev` node.
const devNodeID = "node-1"

// runDev starts a single node, or a local cluster of -nodes processes, with a
// development PKI under the data dir. Running it again with the same folder
// reuses the certificates and the stores.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs, "kmsd-data")
	nodes := fs.Int("nodes", 1, "number of nodes: 1 runs in this process, more start one kmsd process each on loopback")
	if err := parseWithConfig(fs, args, &c.configFile); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 9 {
		return fmt.Errorf("-nodes must be between 1 and 9")
	}
	if *nodes > 1 && c.nodeID != "" {
		return fmt.Errorf("-node-id names a single node; the nodes of -nodes %d are node-1 to node-%d", *nodes, *nodes)
	}
	dataDir, err := filepath.Abs(c.dataDir)
	if err != nil {
		return err
	}
	c.dataDir = dataDir
	host, _, err := net.SplitHostPort(c.kmipAddr)
	if err != nil {
		return fmt.Errorf("kmip-addr: %w", err)
	}
	pki, err := devpki.Ensure(filepath.Join(dataDir, "pki"), host)
	if err != nil {
		return fmt.Errorf("development PKI: %w", err)
	}
	if *nodes > 1 {
		return runDevCluster(ctx, c, *nodes, pki, host, stdout, stderr)
	}
	id := c.nodeID
	if id == "" {
		id = devNodeID
		if err := checkDevRaftState(dataDir, pki); err != nil {
			return err
		}
	}
	nodeCert, nodeKey, err := devpki.EnsureNode(pki, id, host)
	if err != nil {
		return fmt.Errorf("development PKI: %w", err)
	}
	logger, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	cfg := c.config()
	cfg.NodeID = id
	cfg.Bootstrap = true
	cfg.AuditStdout = stdout
	if err := loadTLS(&cfg, devTLSFiles(pki, nodeCert, nodeKey), logger); err != nil {
		return err
	}
	if cfg.GossipAddr != "" {
		if cfg.GossipKey, err = os.ReadFile(pki.GossipKey); err != nil {
			return err
		}
	}
	n, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := devAuthority(ctx, pki, n.grpcLn.Addr().String()); err != nil {
		n.shutdown()
		return err
	}
	reloadOnSIGHUP(ctx, cfg.TLS)
	printDevBanner(stdout, dataDir, id, n.kmipAddr, n.grpcLn.Addr().String(), n.auditFile, pki, nodeCert)
	return n.wait(ctx)
}

// checkDevRaftState refuses a data folder whose Raft state an earlier
// kmsd dev made without node certificates: that node's id was its Raft
// address, which is not the id node-1 that its new certificate names, and
// a node that is not in its own Raft configuration never elects itself.
func checkDevRaftState(dataDir string, pki devpki.Paths) error {
	if _, err := os.Stat(pki.NodeCert(devNodeID)); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	raftDB := filepath.Join(dataDir, "raft", "raft.db")
	if _, err := os.Stat(raftDB); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("%s holds the Raft state of a node that an earlier kmsd dev ran with its Raft address as node id, "+
		"but node ids now come from node certificates (this node's would be %q), so it cannot lead its own cluster. "+
		"Use a new --data-dir, or take out the keys you need with the earlier kmsd first", dataDir, devNodeID)
}

func printDevBanner(w io.Writer, dataDir, id, kmipAddr, adminAddr, auditFile string, pki devpki.Paths, nodeCert string) {
	if auditFile == "" {
		auditFile = "none (--audit-file off)"
	}
	fmt.Fprintf(w, `kmsd dev: single-node KMS ready (press Ctrl-C to stop)
  data dir     %s
  node id      %s
  KMIP (mTLS)  %s
  admin (gRPC) %s
  KMIP CA      %s   (KMIP clients trust it; it signs server.pem and client.pem)
  client cert  %s, %s
  admin CA     %s   (signs admin.pem)
  admin cert   %s, %s
  node CA      %s   (signs node certificates; the admin port presents one)
  node cert    %s
  seal         file: the root key is wrapped in seal.json by unseal.key, both in the data dir
               (for development; see docs/runbook.md for passphrase, shamir and pkcs11)
  policy       until one is set, each client certificate is a tenant of its own with the role user
               (kmsctl policy list; see the README's "Tenants and roles")
  issuing CA   the KMIP CA: kmsctl pki issue makes client certificates for a tenant and role
  audit log    %s
               (check it with: go run ./cmd/kmsctl --admin %s --dev-dir %s audit verify <file>)

Try it:
  go run ./cmd/kmsctl --server %s --dev-dir %s key create --alg AES --length 256 --name demo
  go run ./cmd/kmsctl --admin %s --dev-dir %s status
`, dataDir, id, kmipAddr, adminAddr, pki.CACert, pki.ClientCert, pki.ClientKey, pki.AdminCACert, pki.AdminCert, pki.AdminKey,
		pki.NodeCACert, nodeCert, auditFile, adminAddr, dataDir, kmipAddr, dataDir, adminAddr, dataDir)
}
