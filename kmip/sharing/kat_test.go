package sharing

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/ovh/kmip-go"
)

// oasisCase is one entry of testdata/oasis-split-join.json: a secret and
// the parts a server recorded for it in an OASIS KMIP test case.
type oasisCase struct {
	Name      string `json:"name"`
	File      string `json:"file"`
	Method    string `json:"method"`
	Parts     int    `json:"parts"`
	Threshold int    `json:"threshold"`
	Secret    string `json:"secret"`
	Shares    []struct {
		ID    int    `json:"id"`
		Value string `json:"value"`
	} `json:"shares"`
}

func loadOASIS(t *testing.T) []oasisCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/oasis-split-join.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []oasisCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	return f.Cases
}

func (c oasisCase) decode(t *testing.T) (kmip.SplitKeyMethod, []byte, []Share) {
	t.Helper()
	methods := map[string]kmip.SplitKeyMethod{
		"XOR":                    kmip.SplitKeyMethodXOR,
		"PolynomialSharingGF2_8": kmip.SplitKeyMethodPolynomialSharingGF28,
	}
	m, ok := methods[c.Method]
	if !ok {
		t.Fatalf("%s: unknown method %q", c.Name, c.Method)
	}
	secret := mustHex(t, c.Secret)
	shares := make([]Share, len(c.Shares))
	for i, s := range c.Shares {
		shares[i] = Share{ID: s.ID, Value: mustHex(t, s.Value)}
	}
	return m, secret, shares
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// subsets returns every k-element subset of shares, in order.
func subsets(shares []Share, k int) [][]Share {
	if k == 0 {
		return [][]Share{nil}
	}
	var out [][]Share
	for i := 0; i+k <= len(shares); i++ {
		for _, rest := range subsets(shares[i+1:], k-1) {
			out = append(out, append([]Share{shares[i]}, rest...))
		}
	}
	return out
}

// TestOASISJoin joins the recorded parts as the test cases do (and every
// other threshold-sized subset) and expects the registered secret.
func TestOASISJoin(t *testing.T) {
	for _, c := range loadOASIS(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, secret, shares := c.decode(t)
			for _, sub := range subsets(shares, c.Threshold) {
				got, err := Join(m, sub, c.Threshold, nil, len(secret))
				if err != nil {
					t.Fatalf("parts %v: %v", ids(sub), err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("parts %v: joined %x, want %x", ids(sub), got, secret)
				}
			}
			// All parts at once: the extra ones are checked, and agree.
			got, err := Join(m, shares, c.Threshold, nil, len(secret))
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("all parts: %x, %v", got, err)
			}
			// The failing joins of the test cases: one part is too few.
			for _, s := range shares {
				if _, err := Join(m, []Share{s}, c.Threshold, nil, len(secret)); !errors.Is(err, ErrTooFewShares) {
					t.Fatalf("part %d alone: %v, want ErrTooFewShares", s.ID, err)
				}
			}
		})
	}
}

// TestOASISSplit feeds Split the randomness the recording server must have
// drawn, derived from the secret and part 1 only, and expects every other
// part exactly as recorded: the evaluation points, field and byte layout
// all match.
func TestOASISSplit(t *testing.T) {
	for _, c := range loadOASIS(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, secret, shares := c.decode(t)
			var stream []byte
			switch m {
			case kmip.SplitKeyMethodXOR:
				// Parts 1 to n-1 are the random pads; the last is derived.
				for _, s := range shares[:len(shares)-1] {
					stream = append(stream, s.Value...)
				}
			case kmip.SplitKeyMethodPolynomialSharingGF28:
				if c.Threshold != 2 {
					t.Fatalf("derivation assumes a line, threshold %d", c.Threshold)
				}
				// f(x) = s + a·x, so a = f(1) - s = part 1 XOR secret.
				for i := range secret {
					stream = append(stream, shares[0].Value[i]^secret[i])
				}
			}
			got, err := Split(m, secret, c.Parts, c.Threshold, nil, bytes.NewReader(stream))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(shares) {
				t.Fatalf("%d parts, want %d", len(got), len(shares))
			}
			for i := range shares {
				if got[i].ID != shares[i].ID || !bytes.Equal(got[i].Value, shares[i].Value) {
					t.Errorf("part %d: %x, want part %d: %x", got[i].ID, got[i].Value, shares[i].ID, shares[i].Value)
				}
			}
		})
	}
}

// TestOASISNotAESField records why GF(2^8) sharing uses x^8+x^4+x^3+x^2+1:
// over the FIPS 197 field the recorded parts do not join to the secret.
func TestOASISNotAESField(t *testing.T) {
	c := loadOASIS(t)[0]
	m, secret, shares := c.decode(t)
	if m != kmip.SplitKeyMethodPolynomialSharingGF28 {
		t.Fatalf("first case is %s, want the GF(2^8) one", c.Method)
	}
	aes := gf8Field
	aes.mul = func(a, b uint8) uint8 { return gf8Mul(a, b, polyAES) }
	aes.inv = func(a uint8) uint8 { return gf8Inv(a, polyAES) }
	mismatches := 0
	for _, sub := range subsets(shares, c.Threshold) {
		got, err := aes.join(sub, c.Threshold, len(secret))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			mismatches++
		}
	}
	if mismatches == 0 {
		t.Fatal("the AES field joins every subset too; the vectors would not decide the polynomial")
	}
}

func ids(shares []Share) []int {
	out := make([]int, len(shares))
	for i, s := range shares {
		out[i] = s.ID
	}
	return out
}

// TestGF16IndependentExample joins the worked 3-of-5 example of an
// independent implementation written from the KMIP text (Robert Campbell,
// KMIP-SplitKey, shamirshare2.py v0.32 doctest: GF(2^16) = GF8[z]/(z^2 +
// z + 3A) over the FIPS 197 field): points 1 -> ab + cd·z, 2 -> 11 + ab·z,
// 5 -> 1a + 2b·z, secret ab + 34·z, and the further points 3 -> 11 + 52·z,
// 4 -> 1a + d2·z. Here an element is encoded u (the z coefficient) first.
func TestGF16IndependentExample(t *testing.T) {
	m := kmip.SplitKeyMethodPolynomialSharingGF216
	pts := map[int]string{1: "cdab", 2: "ab11", 3: "5211", 4: "d21a", 5: "2b1a"}
	share := func(id int) Share { return Share{ID: id, Value: mustHex(t, pts[id])} }
	want := mustHex(t, "34ab")
	for _, set := range [][]int{{1, 2, 5}, {1, 3, 4}, {2, 4, 5}, {5, 4, 3, 2, 1}} {
		var shares []Share
		for _, id := range set {
			shares = append(shares, share(id))
		}
		got, err := Join(m, shares, 3, nil, 2)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("parts %v: %x, %v; want %x", set, got, err, want)
		}
	}
}
