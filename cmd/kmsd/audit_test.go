package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/cluster/audit"
	"github.com/kmsd/kmsd/cluster/devpki"
	"github.com/kmsd/kmsd/cluster/seal"
	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/adminpb"
)

func TestAuditFlags(t *testing.T) {
	c, err := parseServe(t, "", "--data-dir", "/var/lib/kmsd")
	if err != nil {
		t.Fatal(err)
	}
	a := c.config().Audit
	if a.path("/var/lib/kmsd") != "/var/lib/kmsd/audit.log" || a.MaxSize != audit.DefaultMaxFileSize || a.MaxFiles != audit.DefaultMaxFiles || a.FailClosed || a.Stdout {
		t.Errorf("defaults %+v", a)
	}
	file := writeConfig(t, `{"audit-file": "/logs/kmsd-audit.log", "audit-max-size": 1048576, "audit-max-files": 3,
		"audit-syslog": "unixgram:/dev/log", "audit-fail-closed": true, "audit-stdout": true}`)
	c, err = parseServe(t, file, "--audit-max-files", "4")
	if err != nil {
		t.Fatal(err)
	}
	want := auditFlags{File: "/logs/kmsd-audit.log", MaxSize: 1 << 20, MaxFiles: 4, Syslog: "unixgram:/dev/log", FailClosed: true, Stdout: true}
	if got := c.config().Audit; got != want {
		t.Errorf("from the config file: %+v, want %+v", got, want)
	}
	if p := (auditFlags{File: auditOff}).path("/d"); p != "" {
		t.Errorf("--audit-file off: path %q", p)
	}
	for _, args := range [][]string{
		{"--audit-max-size", "0"},
		{"--audit-max-files", "0"},
		{"--audit-max-files", "1001"},
		{"--audit-syslog", "/dev/log"},
		{"--audit-syslog", "http:x"},
	} {
		if _, err := parseServe(t, "", args...); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestDevNodesGetTheAuditFlags(t *testing.T) {
	for _, file := range []string{"", auditOff, "/one/file/for/all.log"} {
		args := []string{"--data-dir", t.TempDir(), "--audit-fail-closed", "--audit-max-files", "5"}
		if file != "" {
			args = append(args, "--audit-file", file)
		}
		c, err := parseServe(t, "", args...)
		if err != nil {
			t.Fatal(err)
		}
		pki, err := devpki.Ensure(filepath.Join(c.dataDir, "pki"))
		if err != nil {
			t.Fatal(err)
		}
		dn, err := writeDevNode(c, 1, pki, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("kmsd serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var node serveFlags
		node.register(fs)
		if err := parseWithConfig(fs, []string{"--config", dn.config}, &node.configFile); err != nil {
			t.Fatalf("the node's config file: %v", err)
		}
		got := node.config().Audit
		want := c.config().Audit
		if file != auditOff {
			// Each node writes the file of its own data dir.
			want.File = ""
		}
		if got != want {
			t.Errorf("--audit-file %q: node has %+v, want %+v", file, got, want)
		}
	}
}

// TestHostAudit: a node writes a verifiable line for a KMIP request and
// for an admin call to its data dir's audit.log and to syslog, and answers
// VerifyAuditLog for that file.
func TestHostAudit(t *testing.T) {
	cfg := testHostConfig(t, seal.InitOptions{})
	sock := filepath.Join(t.TempDir(), "log.sock")
	syslogd, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer syslogd.Close()
	cfg.Audit.Syslog = "unixgram:" + sock
	h := serveHost(t, cfg)
	ctx := t.Context()
	if h.auditFile != filepath.Join(cfg.DataDir, "audit.log") {
		t.Fatalf("audit file %q", h.auditFile)
	}
	pkiDir := filepath.Join(filepath.Dir(cfg.DataDir), "pki")
	kmipQuery(t, pkiDir, h.kmipAddr)

	p := devpki.PathsIn(pkiDir)
	tlsCfg, err := devpki.ClientTLS(p.NodeCACert, p.AdminCert, p.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg.ServerName = "127.0.0.1"
	conn, err := grpc.NewClient(h.grpcLn.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := adminpb.NewAdminClient(conn)
	if _, err := c.Status(ctx, &adminpb.StatusRequest{}); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(h.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var line struct {
			Node, Operation, Identity, Role, Result string
			KV                                      uint32
		}
		if err := json.Unmarshal(l, &line); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		if line.Node != "node-1" || line.KV != 1 || line.Result != "success" {
			t.Errorf("line %s", l)
		}
		ops = append(ops, line.Operation+" by "+line.Identity+" as "+line.Role)
	}
	if len(ops) != 2 || ops[0] != "Query by "+devClientIdentity(t, p)+" as user" || ops[1] != "kmsd.admin.v1.Admin/Status by "+devAdminIdentity(t, p)+" as operator" {
		t.Fatalf("audit lines %q", ops)
	}

	buf := make([]byte, 64<<10)
	_ = syslogd.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := syslogd.Read(buf)
	if err != nil || !bytes.Contains(buf[:n], []byte(`"operation":"Query"`)) {
		t.Fatalf("syslog got %q, %v", buf[:n], err)
	}

	stream, err := c.VerifyAuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&adminpb.AuditLogChunk{File: "audit.log", Data: data}); err != nil {
		t.Fatal(err)
	}
	rep, err := stream.CloseAndRecv()
	if err != nil || !rep.GetOk() || rep.GetLines() != 2 {
		t.Fatalf("VerifyAuditLog: %v %v", rep, err)
	}
}

// devClientIdentity and devAdminIdentity are the Common Names of the
// development client and admin certificates.
// devClientIdentity is the KMIP identity of the dev client certificate.
func devClientIdentity(t *testing.T, p devpki.Paths) string {
	t.Helper()
	ca, err := devpki.LoadCerts(p.CACert)
	if err != nil || len(ca) == 0 {
		t.Fatalf("%s: %v", p.CACert, err)
	}
	return policy.Identity{CA: policy.Fingerprint(ca[0]), CommonName: certCN(t, p.ClientCert)}.String()
}
func devAdminIdentity(t *testing.T, p devpki.Paths) string { return certCN(t, p.AdminCert) }

func certCN(t *testing.T, file string) string {
	t.Helper()
	certs, err := devpki.LoadCerts(file)
	if err != nil || len(certs) == 0 {
		t.Fatalf("%s: %v", file, err)
	}
	return certs[0].Subject.CommonName
}

func TestDevBannerNamesTheAuditFile(t *testing.T) {
	var buf bytes.Buffer
	printDevBanner(&buf, "/d", "node-1", "127.0.0.1:5696", "127.0.0.1:5697", "/d/audit.log", devpki.PathsIn("/d/pki"), "/d/pki/nodes/node-1.pem")
	if !strings.Contains(buf.String(), "audit log    /d/audit.log\n") || !strings.Contains(buf.String(), "--admin 127.0.0.1:5697 --dev-dir /d audit verify") {
		t.Errorf("banner:\n%s", buf.String())
	}
	buf.Reset()
	printDevBanner(&buf, "/d", "node-1", "k", "a", "", devpki.PathsIn("/d/pki"), "n")
	if !strings.Contains(buf.String(), "audit log    none (--audit-file off)\n") {
		t.Errorf("banner without a file:\n%s", buf.String())
	}
}
