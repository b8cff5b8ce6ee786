package kmip_test

import (
	"bufio"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	kmsdkmip "github.com/kmsd/kmsd/kmip"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the feature table of ../README.md from the code")

const (
	readmeFile    = "../README.md"
	featuresBegin = "<!-- features:begin -->"
	featuresEnd   = "<!-- features:end -->"
)

// TestREADMEFeatureTable keeps the feature table of README.md identical to
// what the code does; -update-readme rewrites it.
func TestREADMEFeatureTable(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, featuresBegin)
	end := strings.Index(readme, featuresEnd)
	if start < 0 || end < start || strings.Count(readme, featuresBegin) != 1 || strings.Count(readme, featuresEnd) != 1 {
		t.Fatalf("%s needs one %q and, after it, one %q", readmeFile, featuresBegin, featuresEnd)
	}
	want := "\n" + kmsdkmip.FeatureTable() + "\n"
	got := readme[start+len(featuresBegin) : end]
	if got == want {
		return
	}
	if *updateReadme {
		updated := readme[:start+len(featuresBegin)] + want + readme[end:]
		if err := os.WriteFile(readmeFile, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the feature table of %s", readmeFile)
		return
	}
	t.Errorf("the feature table in %s is stale; run: go test ./kmip -run TestREADMEFeatureTable -update-readme", readmeFile)
}

func TestFeatureTableShape(t *testing.T) {
	table := kmsdkmip.FeatureTable()
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| ") {
			rows = append(rows, line)
		}
	}
	for _, r := range rows {
		if n := strings.Count(r, " | "); n < 5 {
			t.Errorf("row %q has %d cells", r, n+1)
		}
	}
	for _, want := range []string{"| Create | ✓ | ✓ | ✓ | ✓ | ✓ |", "| Discover Versions | n/a | ✓ |", "| Fresh | n/a | ✓ |", "| Comment | n/a | n/a | n/a | n/a | ✓ |"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no row starting %q", want)
		}
	}
}

// TestFeatureTableCoversKMIP checks that the table lists every operation,
// object type and attribute of KMIP 1.0–1.4 that kmip-go knows, and that
// no operation or object type is served in a version that does not define
// it.
func TestFeatureTableCoversKMIP(t *testing.T) {
	ops := kmsdkmip.TableOperations()
	for op := kmip.Operation(1); op <= 0x2F; op++ {
		_, listed := ops[op]
		if known := ttlv.EnumStr(op) != ""; listed != known {
			t.Errorf("operation %#x: listed %v, known to kmip-go %v", uint32(op), listed, known)
		}
	}
	for op, since := range kmsdkmip.RouteSince() {
		defined, ok := ops[op]
		if !ok || compareVersions(since, defined) < 0 {
			t.Errorf("operation %s is served from %s but defined from %s", ttlv.EnumStr(op), since, defined)
		}
	}
	types := kmsdkmip.TableObjectTypes()
	for ot := kmip.ObjectType(1); ot <= 0x0F; ot++ {
		_, listed := types[ot]
		if known := ttlv.EnumStr(ot) != ""; listed != known {
			t.Errorf("object type %#x: listed %v, known to kmip-go %v", uint32(ot), listed, known)
		}
	}
	for ot, since := range kmsdkmip.ObjectKindSince() {
		defined, ok := types[ot]
		if !ok || compareVersions(since, defined) < 0 {
			t.Errorf("object type %s is stored from %s but defined from %s", ttlv.EnumStr(ot), since, defined)
		}
	}
	order, rules := kmsdkmip.AttrRules()
	if len(order) != len(kmip.AllAttributeNames) {
		t.Errorf("%d attribute rules for %d KMIP 1.x attributes", len(order), len(kmip.AllAttributeNames))
	}
	for _, name := range kmip.AllAttributeNames {
		r, ok := rules[name]
		if !ok {
			t.Errorf("no rule for %q", name)
			continue
		}
		// The server's table agrees with the independent list of
		// attributes_test.go.
		want := kmip.V1_0
		if since, isNew := introduced[name]; isNew {
			want = since
		}
		if r.Since != want {
			t.Errorf("%q defined from %s, want %s", name, r.Since, want)
		}
	}
}

// profileEvidence names, per claimed profile, the vector directory and file
// prefix of the profile's mandatory test cases (KMIP Profiles 1.x) and how
// many there are.
var profileEvidence = map[kmip.ProfileName]struct {
	pattern string
	count   int
}{
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_0:               {`^v1\.0/SKLC_M_\d+_10_`, 3},
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_1:               {`^v1\.1/SKLC_M_\d+_11_`, 3},
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_3:               {`^v1\.3/SKLC-M-\d+-13\.xml$`, 3},
	kmip.ProfileNameSymmetricKeyLifecycleServerKMIPV1_4:               {`^v1\.4/SKLC-M-\d+-14\.xml$`, 3},
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_0:                 {`^v1\.0/SKFF_M_\d+_10_`, 12},
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_1:                 {`^v1\.1/SKFF_M_\d+_11_`, 12},
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_3:                 {`^v1\.3/SKFF-M-\d+-13\.xml$`, 12},
	kmip.ProfileNameSymmetricKeyFoundryServerKMIPV1_4:                 {`^v1\.4/SKFF-M-\d+-14\.xml$`, 12},
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_0:            {`^v1\.0/OMOS_M_\d+_10_`, 1},
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_3:            {`^v1\.3/OMOS-M-\d+-13\.xml$`, 1},
	kmip.ProfileNameOpaqueManagedObjectStoreServerKMIPV1_4:            {`^v1\.4/OMOS-M-\d+-14\.xml$`, 1},
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_0: {`^v1\.0/SASED_M_\d+_10_`, 3},
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_3: {`^v1\.3/SASED-M-\d+-13\.xml$`, 3},
	kmip.ProfileNameStorageArrayWithSelfEncryptingDriveServerKMIPV1_4: {`^v1\.4/SASED-M-\d+-14\.xml$`, 3},
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_0:              {`^v1\.0/AKLC_M_\d+_10_`, 3},
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_1:              {`^v1\.1/AKLC_M_\d+_11_`, 3},
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_3:              {`^v1\.3/AKLC-M-\d+-13\.xml$`, 3},
	kmip.ProfileNameAsymmetricKeyLifecycleServerKMIPV1_4:              {`^v1\.4/AKLC-M-\d+-14\.xml$`, 3},
	kmip.ProfileNameTapeLibraryServerKMIPV1_0:                         {`^v1\.0/TL_M_\d+_10_`, 3},
	kmip.ProfileNameTapeLibraryServerKMIPV1_3:                         {`^v1\.3/TL-M-\d+-13\.xml$`, 3},
	kmip.ProfileNameTapeLibraryServerKMIPV1_4:                         {`^v1\.4/TL-M-\d+-14\.xml$`, 3},
}

// TestClaimedProfilesPass checks that Query Profiles claims only profiles
// whose mandatory test cases all pass against a real kmsd, as recorded in
// e2e/testdata/conformance_pass.txt.
func TestClaimedProfilesPass(t *testing.T) {
	passing := readPassList(t, "../e2e/testdata/conformance_pass.txt")
	for _, p := range kmsdkmip.ClaimedProfiles() {
		ev, ok := profileEvidence[p]
		if !ok {
			t.Errorf("profile %s is claimed without naming its mandatory test cases here", ttlv.EnumStr(p))
			continue
		}
		re := regexp.MustCompile(ev.pattern)
		n := 0
		for _, name := range passing {
			if re.MatchString(name) {
				n++
			}
		}
		if n != ev.count {
			t.Errorf("profile %s is claimed but %d of its %d mandatory vectors pass", ttlv.EnumStr(p), n, ev.count)
		}
	}
}

func readPassList(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 || !slices.IsSorted(out) {
		t.Fatalf("%s is empty or not sorted", path)
	}
	return out
}
