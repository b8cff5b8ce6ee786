package e2e_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kmsd/kmsd/e2e/conformance"
	"github.com/kmsd/kmsd/e2e/harness"
)

var (
	updateConformance = flag.Bool("update-conformance", false,
		"add the vectors that pass now to "+passListFile+" (a regression is never recorded: it fails the test)")
	pruneConformance = flag.Bool("conformance-prune", false,
		"with -update-conformance, also drop listed vectors that fail now (for a vector found to be wrongly listed)")
	conformanceRun = flag.String("conformance-run", "",
		"run only the conformance vectors whose name (v1.0/FILE.xml) matches this regular expression")
	conformanceVerbose = flag.Bool("conformance-verbose", false,
		"log every difference of every failing conformance vector")
	conformanceBudget = flag.Duration("conformance-budget", 2*time.Minute,
		"time allowed for replaying the conformance vectors; the rest are reported as not run")
)

// passListFile lists the vectors that passed when it was last updated, one
// "v1.0/FILE.xml" per line, sorted. A listed vector that fails is a
// regression.
const passListFile = "testdata/conformance_pass.txt"

// TestConformance replays the OASIS KMIP 1.0–1.4 test vectors shipped with
// ovh/kmip-go against one fresh `kmsd dev`, each vector on its own
// connection, and compares the responses with the recordings.
func TestConformance(t *testing.T) {
	dir, err := conformance.VectorsDir()
	if err != nil {
		t.Fatal(err)
	}
	names, err := conformance.List(dir, conformance.Versions...)
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Clone(names)
	if *conformanceRun != "" {
		re, err := regexp.Compile(*conformanceRun)
		if err != nil {
			t.Fatalf("-conformance-run: %v", err)
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !re.MatchString(n) })
	}
	passList := readPassList(t)

	node := harness.StartDev(t, "")
	setCredentialPolicy(t, node)
	results := replay(t, node, dir, names)

	report(t, results)
	checkAgainstPassList(t, results, passList, all)
	if *updateConformance && (!t.Failed() || *pruneConformance) {
		writePassList(t, results, passList)
	}
}

// setCredentialPolicy sets what TC-111 and TC-112 assume: for the
// certificate the vectors are sent with, the Username and Password
// credential Fred/password1 and the Device credential devID2233/secret are
// valid (and put the client in a tenant of their own), and any other
// credential is not.
func setCredentialPolicy(t *testing.T, node *harness.Node) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "credentials.json")
	entry := fmt.Sprintf(`{"name": "conformance-credentials", "binding": {
	  "identities": [{"ca_file": %q, "common_name": "dev-client"}],
	  "tenant": "conformance-credentials", "role": "admin",
	  "credentials": [{"username": "Fred", "password": "password1"}, {"device_identifier": "devID2233", "password": "secret"}]}}`, node.PKI.CA)
	if err := os.WriteFile(file, []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.KmsctlAdmin(t, "--admin", node.AdminAddr, "policy", "set", file); err != nil {
		t.Fatal(err)
	}
}

func replay(t *testing.T, node *harness.Node, dir string, names []string) []conformance.Result {
	cfg := node.TLSConfig(t)
	runner := &conformance.Runner{
		Dir: dir,
		Dial: func(ctx context.Context) (net.Conn, error) {
			// Bounds the TLS handshake too, not only the TCP connect.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			d := tls.Dialer{Config: cfg}
			return d.DialContext(ctx, "tcp", node.KMIPAddr)
		},
	}
	cleaner := &conformance.Cleaner{Client: node.Client(t)}
	cleanupFailed := false

	ctx, cancel := context.WithTimeout(context.Background(), *conformanceBudget)
	defer cancel()
	results := make([]conformance.Result, 0, len(names))
	for _, name := range names {
		if ctx.Err() != nil {
			results = append(results, conformance.Result{Name: name, Reason: "not run: -conformance-budget exhausted"})
			continue
		}
		// Vectors locate objects by name: start each from a server without
		// visible objects, except the parts that continue a previous one.
		if !conformance.ContinuesPrevious(name) {
			if err := cleaner.Clean(ctx); err != nil && !cleanupFailed {
				cleanupFailed = true
				t.Logf("cleanup between vectors does not work, vectors may see each other's objects: %v", err)
			}
		}
		res := runner.Run(ctx, name)
		results = append(results, res)
		if *conformanceVerbose && !res.Pass {
			for _, d := range res.Diffs {
				t.Logf("%s: %s", name, d)
			}
			if len(res.Diffs) == 0 {
				t.Logf("%s: %s", name, res.Reason)
			}
		}
	}
	return results
}

// report prints one line per version, to the test log and to stdout so
// that it shows in plain `go test` output.
func report(t *testing.T, results []conformance.Result) {
	fmt.Println("KMIP conformance vectors (ovh/kmip-go kmiptest/testdata):")
	for _, v := range conformance.Versions {
		pass, total := 0, 0
		for _, r := range results {
			if strings.HasPrefix(r.Name, v+"/") {
				total++
				if r.Pass {
					pass++
				}
			}
		}
		if total == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %d of %d vectors pass", v, pass, total)
		t.Log(line)
		fmt.Println(line)
	}
}

func checkAgainstPassList(t *testing.T, results []conformance.Result, passList map[string]bool, all []string) {
	var newly []string
	for _, r := range results {
		switch {
		case passList[r.Name] && !r.Pass:
			t.Errorf("regression: %s: %s", r.Name, r.Reason)
		case !passList[r.Name] && r.Pass:
			newly = append(newly, r.Name)
		}
	}
	if len(newly) > 0 {
		t.Logf("newly passing, run with -update-conformance:\n\t%s", strings.Join(newly, "\n\t"))
	}
	for name := range passList {
		if !slices.Contains(all, name) {
			t.Errorf("%s lists %s, which is not among the vectors", passListFile, name)
		}
	}
}

func readPassList(t *testing.T) map[string]bool {
	f, err := os.Open(passListFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	list := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			list[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return list
}

// writePassList stores the current results. Vectors that were not run
// (filtered out by -conformance-run) keep their previous entry.
func writePassList(t *testing.T, results []conformance.Result, old map[string]bool) {
	list := map[string]bool{}
	for name := range old {
		list[name] = true
	}
	for _, r := range results {
		if strings.HasPrefix(r.Reason, "not run:") {
			continue
		}
		list[r.Name] = r.Pass
	}
	var lines []string
	for name, pass := range list {
		if pass {
			lines = append(lines, name+"\n")
		}
	}
	slices.Sort(lines)
	if err := os.WriteFile(passListFile, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d passing vectors to %s", len(lines), passListFile)
}
