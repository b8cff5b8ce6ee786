package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseServe(t *testing.T, file string, args ...string) (commonFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c commonFlags
	c.register(fs, "")
	var bootstrap bool
	fs.BoolVar(&bootstrap, "bootstrap", false, "")
	if file != "" {
		args = append([]string{"--config", file}, args...)
	}
	return c, parseWithConfig(fs, args, &c.configFile)
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kmsd.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFile(t *testing.T) {
	file := writeConfig(t, `{"data-dir": "/var/lib/kmsd", "kmip-addr": "10.0.0.1:5696", "join": ["a:5697", "b:5697"],
		"max-message-size": 2097152, "read-consistency": "stale", "snapshot-interval": "30s", "bootstrap": false}`)
	c, err := parseServe(t, file, "--kmip-addr", "127.0.0.1:9999")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.config()
	if cfg.DataDir != "/var/lib/kmsd" || cfg.MaxMessageSize != 2<<20 || cfg.ConsistentReads || cfg.SnapshotInterval != 30*time.Second {
		t.Errorf("config file values not applied: %+v", cfg)
	}
	if cfg.KMIPAddr != "127.0.0.1:9999" {
		t.Errorf("kmip-addr = %s, want the command line to win over the file", cfg.KMIPAddr)
	}
	if strings.Join(cfg.Join, ",") != "a:5697,b:5697" {
		t.Errorf("join = %v", cfg.Join)
	}
}

// Reads are linearizable unless stale reads are asked for.
func TestReadConsistencyDefault(t *testing.T) {
	c, err := parseServe(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.config().ConsistentReads {
		t.Error("reads are not linearizable by default")
	}
	if _, err := parseServe(t, "", "--read-consistency", "sometimes"); err == nil {
		t.Error("--read-consistency sometimes was accepted")
	}
}

func TestConfigFileErrors(t *testing.T) {
	for name, body := range map[string]string{
		"unknown setting":  `{"no-such-flag": 1}`,
		"bad value":        `{"max-message-size": "big"}`,
		"not json":         `data-dir = x`,
		"nested config":    `{"config": "other.json"}`,
		"read consistency": `{"read-consistency": "eventual"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseServe(t, writeConfig(t, body)); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := parseServe(t, filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestShiftPort(t *testing.T) {
	if got, err := shiftPort("127.0.0.1:5696", 20); err != nil || got != "127.0.0.1:5716" {
		t.Errorf("shiftPort = %q, %v", got, err)
	}
	if _, err := shiftPort("127.0.0.1:0", 10); err == nil {
		t.Error("port 0 accepted for a dev cluster")
	}
}

func TestRunUsage(t *testing.T) {
	if err := run(t.Context(), nil, io.Discard, io.Discard); err == nil {
		t.Error("no command accepted")
	}
	if err := run(t.Context(), []string{"frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
	if err := run(t.Context(), []string{"serve"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-data-dir") {
		t.Errorf("serve without files: %v", err)
	}
}
