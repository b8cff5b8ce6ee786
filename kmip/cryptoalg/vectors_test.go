package cryptoalg

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unhex decodes a hex string from a vector file, failing the test on error.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// record is one blank-line separated entry of a "Name = value" (CAVP .rsp,
// BoringSSL) or "Name: value" file; section holds the [..] lines above it.
type record struct {
	line    int
	fields  map[string]string
	section map[string]string
}

// has reports whether the record carries field (for flag-like fields such
// as "Invalid =" or "FAIL").
func (r record) has(field string) bool {
	_, ok := r.fields[field]
	return ok
}

// bytes decodes a field: hex, or a "quoted string" taken literally.
func (r record) bytes(t testing.TB, field string) []byte {
	t.Helper()
	v, ok := r.fields[field]
	if !ok {
		t.Fatalf("line %d: no field %s", r.line, field)
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return []byte(v[1 : len(v)-1])
	}
	return unhex(t, v)
}

// readRecords parses a record file under testdata/.
func readRecords(t testing.TB, name string) []record {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out     []record
		cur     record
		section = map[string]string{}
		newSec  bool
	)
	flush := func() {
		if len(cur.fields) > 0 {
			cur.section = section
			out = append(out, cur)
		}
		cur = record{}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			flush()
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			flush()
			if !newSec {
				section = map[string]string{}
				newSec = true
			}
			k, v, _ := strings.Cut(line[1:len(line)-1], "=")
			section[strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		newSec = false
		if cur.fields == nil {
			cur = record{line: n, fields: map[string]string{}}
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			cur.fields[line] = ""
			continue
		}
		cur.fields[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	if len(out) == 0 {
		t.Fatalf("%s: no records", name)
	}
	return out
}

// Wycheproof files (C2SP/wycheproof testvectors_v1 schema, subsets).
type wyFile struct {
	Algorithm  string    `json:"algorithm"`
	TestGroups []wyGroup `json:"testGroups"`
}

type wyGroup struct {
	KeySize    int             `json:"keySize"`
	IVSize     int             `json:"ivSize"`
	TagSize    int             `json:"tagSize"`
	Sha        string          `json:"sha"`
	MGFSha     string          `json:"mgfSha"`
	SLen       int             `json:"sLen"`
	PublicKey  json.RawMessage `json:"publicKey"`
	PrivateKey json.RawMessage `json:"privateKey"`
	// PrivateKeyPKCS8 is hex DER, kept where the JSON key lacks primes.
	PrivateKeyPKCS8 string   `json:"privateKeyPkcs8"`
	Tests           []wyTest `json:"tests"`
}

type wyTest struct {
	TcID           int      `json:"tcId"`
	Comment        string   `json:"comment"`
	Flags          []string `json:"flags"`
	Key            string   `json:"key"`
	IV             string   `json:"iv"`
	AAD            string   `json:"aad"`
	Msg            string   `json:"msg"`
	CT             string   `json:"ct"`
	Tag            string   `json:"tag"`
	Sig            string   `json:"sig"`
	Label          string   `json:"label"`
	IKM            string   `json:"ikm"`
	Salt           string   `json:"salt"`
	Info           string   `json:"info"`
	Size           int      `json:"size"`
	OKM            string   `json:"okm"`
	Password       string   `json:"password"`
	IterationCount int      `json:"iterationCount"`
	DKLen          int      `json:"dkLen"`
	DK             string   `json:"dk"`
	Result         string   `json:"result"`
}

// valid reports whether a Wycheproof result must be accepted. "acceptable"
// cases (legal but weak inputs) are treated as valid: the primitives here
// accept them, and each test says so where it matters.
func (w wyTest) valid() bool { return w.Result != "invalid" }

func loadWycheproof(t testing.TB, name string) wyFile {
	t.Helper()
	var f wyFile
	loadJSON(t, filepath.Join("wycheproof", name+".json"), &f)
	if len(f.TestGroups) == 0 {
		t.Fatalf("%s: no test groups", name)
	}
	return f
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// ACVP vector sets (NIST ACVP sample sessions, answers merged in).
type acvpFile struct {
	Algorithm  string      `json:"algorithm"`
	TestGroups []acvpGroup `json:"testGroups"`
}

type acvpGroup struct {
	TgID      int        `json:"tgId"`
	Direction string     `json:"direction"`
	TestType  string     `json:"testType"`
	KeyLen    int        `json:"keyLen"`
	IVLen     int        `json:"ivLen"`
	TagLen    int        `json:"tagLen"`
	Tests     []acvpTest `json:"tests"`
}

type acvpTest struct {
	TcID       int    `json:"tcId"`
	Key        string `json:"key"`
	IV         string `json:"iv"`
	PT         string `json:"pt"`
	CT         string `json:"ct"`
	AAD        string `json:"aad"`
	Tag        string `json:"tag"`
	Msg        string `json:"msg"`
	Len        int    `json:"len"`
	MD         string `json:"md"`
	TestPassed *bool  `json:"testPassed"`
}

func loadACVP(t testing.TB, name string) acvpFile {
	t.Helper()
	var f acvpFile
	loadJSON(t, filepath.Join("acvp", name+".json"), &f)
	if len(f.TestGroups) == 0 {
		t.Fatalf("%s: no test groups", name)
	}
	return f
}
