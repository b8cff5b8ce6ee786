package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

// attrsJSON runs `key attributes ID -o json` and indexes the values by
// "Name" and "Name[index]".
func attrsJSON(t *testing.T, conn []string, id string) map[string]any {
	t.Helper()
	rows := decodeJSON[[]attrRow](t, ok(t, conn, "key", "attributes", id, "-o", "json"))
	out := map[string]any{}
	for _, r := range rows {
		if r.Index == 0 {
			out[r.Name] = r.Value
		}
		out[r.Name+"["+itoa(r.Index)+"]"] = r.Value
	}
	return out
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

func TestKeyCreatePair(t *testing.T) {
	clearEnv(t)
	conn := startRealKMS(t)
	for _, tc := range []struct {
		alg, version, wantAlg string
		bits                  float64
	}{
		{"rsa-2048", "", "RSA", 2048},
		{"rsa-3072", "", "RSA", 3072},
		{"ec-p256", "", "EC", 256},
		{"ec-p384", "", "EC", 384},
		{"ec-p521", "", "EC", 521},
		// EC is a KMIP 1.3 algorithm: a 1.2 connection asks for ECDSA.
		{"ec-p256", "1.2", "ECDSA", 256},
	} {
		t.Run(tc.alg+"/"+tc.version, func(t *testing.T) {
			c := slices.Clone(conn)
			if tc.version != "" {
				c = append(c, "--kmip-version", tc.version)
			}
			r := decodeJSON[pairResult](t, ok(t, c, "-o", "json", "key", "create-pair", "--alg", tc.alg, "--name", "pair-"+tc.alg+tc.version, "--activate"))
			if r.PrivateID == "" || r.PublicID == "" || r.PrivateID == r.PublicID || !r.Activated {
				t.Fatalf("create-pair = %+v", r)
			}
			priv, pub := attrsJSON(t, c, r.PrivateID), attrsJSON(t, c, r.PublicID)
			for _, a := range []map[string]any{priv, pub} {
				if a["Cryptographic Algorithm"] != tc.wantAlg || a["Cryptographic Length"] != tc.bits || a["State"] != "Active" {
					t.Errorf("attributes %v", a)
				}
			}
			if priv["Object Type"] != "PrivateKey" || pub["Object Type"] != "PublicKey" {
				t.Errorf("object types %v, %v", priv["Object Type"], pub["Object Type"])
			}
			if priv["Cryptographic Usage Mask"] != "Sign" || pub["Cryptographic Usage Mask"] != "Verify" {
				t.Errorf("usage %v, %v", priv["Cryptographic Usage Mask"], pub["Cryptographic Usage Mask"])
			}
			if got := priv["Name"].(map[string]any)["NameValue"]; got != "pair-"+tc.alg+tc.version {
				t.Errorf("private name %v", got)
			}
			if got := pub["Name"].(map[string]any)["NameValue"]; got != "pair-"+tc.alg+tc.version+"-public" {
				t.Errorf("public name %v", got)
			}
			if got := priv["Link"].(map[string]any)["LinkedObjectIdentifier"]; got != r.PublicID {
				t.Errorf("private key links to %v, want %s", got, r.PublicID)
			}
		})
	}
	out := ok(t, conn, "key", "create-pair", "--alg", "ec-p256", "--usage", "sign,decrypt", "--public-usage", "verify,encrypt")
	if !regexpMatch(`^private key: \S+\npublic key:  \S+\n$`, out) {
		t.Errorf("table output %q", out)
	}
	fails(t, conn, "invalid --alg", "key", "create-pair", "--alg", "dsa-1024")
	fails(t, conn, "invalid --alg", "key", "create-pair", "--alg", "rsa-100")
	fails(t, conn, "invalid --public-usage", "key", "create-pair", "--public-usage", "fly")
}

// testKeys writes one RSA key, one EC key and a certificate in every PEM
// and DER form `key register` reads, and returns file -> expected Key
// Format Type and DER.
type registerCase struct {
	file, typ, objectType, format string
	der                           []byte
}

func testKeyFiles(t *testing.T) []registerCase {
	t.Helper()
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	spki, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "kmsctl test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	var cases []registerCase
	add := func(name, pemType, typ, objectType, format string, der []byte) {
		p := filepath.Join(dir, name+".pem")
		writeFile(t, p, pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}))
		d := filepath.Join(dir, name+".der")
		writeFile(t, d, der)
		// A PEM file names its type; DER needs --type.
		cases = append(cases, registerCase{p, "", objectType, format, der}, registerCase{d, typ, objectType, format, der})
	}
	add("rsa-pkcs1", "RSA PRIVATE KEY", "private", "private-key", "pkcs-1", x509.MarshalPKCS1PrivateKey(rsaKey))
	add("rsa-pkcs8", "PRIVATE KEY", "private", "private-key", "pkcs-8", pkcs8)
	add("ec-sec1", "EC PRIVATE KEY", "private", "private-key", "ec-private-key", sec1)
	add("rsa-pub-pkcs1", "RSA PUBLIC KEY", "public", "public-key", "pkcs-1", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))
	add("ec-spki", "PUBLIC KEY", "public", "public-key", "x-509", spki)
	add("cert", "CERTIFICATE", "certificate", "certificate", "", cert)
	return cases
}

func TestKeyRegisterFormats(t *testing.T) {
	clearEnv(t)
	conn := append(startRealKMS(t), "-o", "json")
	for _, tc := range testKeyFiles(t) {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			args := []string{"key", "register", "--file", tc.file, "--name", filepath.Base(tc.file)}
			if tc.typ != "" {
				args = append(args, "--type", tc.typ)
			}
			id := decodeJSON[idResult](t, ok(t, conn, args...)).ID
			got := decodeJSON[getResult](t, ok(t, conn, "key", "get", id))
			if got.ObjectType != tc.objectType || got.Format != tc.format || got.MaterialHex != hex.EncodeToString(tc.der) {
				t.Errorf("get = %+v, want %s %s with the registered bytes", got, tc.objectType, tc.format)
			}
			a := attrsJSON(t, conn, id)
			wantUsage := "Verify"
			if tc.objectType == "private-key" {
				wantUsage = "Sign"
			}
			if a["Cryptographic Usage Mask"] != wantUsage {
				t.Errorf("usage %v, want %s", a["Cryptographic Usage Mask"], wantUsage)
			}
		})
	}
	dir := t.TempDir()
	files := testKeyFiles(t)
	fails(t, conn, "not a private key: use --type public", "key", "register", "--type", "private", "--file", files[6].file)
	fails(t, conn, "not a public key in PEM or DER", "key", "register", "--type", "public", "--hex", "3003020101")
	enc := filepath.Join(dir, "enc.pem")
	writeFile(t, enc, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}))
	fails(t, conn, "the private key is encrypted", "key", "register", "--file", enc)
	odd := filepath.Join(dir, "odd.pem")
	writeFile(t, odd, pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}}))
	fails(t, conn, `unsupported PEM block "DSA PRIVATE KEY"`, "key", "register", "--file", odd)
	bad := filepath.Join(dir, "bad.pem")
	writeFile(t, bad, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	fails(t, conn, "invalid RSA PRIVATE KEY", "key", "register", "--file", bad)
	fails(t, conn, "invalid --type", "key", "register", "--type", "template", "--hex", "00")
}

func TestKeyAttrCommands(t *testing.T) {
	clearEnv(t)
	conn := startRealKMS(t)
	id := ok(t, conn, "key", "create", "--name", "attrs")
	id = id[:len(id)-1]
	for _, args := range [][]string{
		{"add", id, "x-owner", "alice"},
		{"add", id, "x-generation", "3", "--type", "integer"},
		{"add", id, "x-rotated", "2030-05-01T10:00:00Z", "--type", "date"},
		{"add", id, "x-blob", "cafe", "--type", "bytes"},
		{"add", id, "x-ok", "true", "--type", "boolean"},
		{"add", id, "object group", "payroll"},
		{"add", id, "Name", "second"},
		{"add", id, "Deactivation Date", "2031-01-01T00:00:00Z"},
		{"add", id, "Link", "public-key:abc"},
		{"add", id, "Application Specific Information", "ssl:example.com"},
		{"modify", id, "x-owner", "bob"},
		{"modify", id, "Name", "second-renamed", "--index", "1"},
		{"delete", id, "x-blob"},
	} {
		ok(t, conn, append([]string{"key", "attr"}, args...)...)
	}
	a := attrsJSON(t, conn, id)
	for name, want := range map[string]any{
		"x-owner": "bob", "x-generation": 3.0, "x-rotated": "2030-05-01T10:00:00Z", "x-ok": true,
		"Object Group": "payroll", "Deactivation Date": "2031-01-01T00:00:00Z",
	} {
		if a[name] != want {
			t.Errorf("%s = %#v, want %#v", name, a[name], want)
		}
	}
	if _, ok := a["x-blob"]; ok {
		t.Error("x-blob is still there after delete")
	}
	if n := a["Name[1]"].(map[string]any)["NameValue"]; n != "second-renamed" {
		t.Errorf("Name[1] = %v", n)
	}
	if l := a["Link"].(map[string]any); l["LinkType"] != "PublicKeyLink" || l["LinkedObjectIdentifier"] != "abc" {
		t.Errorf("Link = %v", l)
	}
	if l := a["Application Specific Information"].(map[string]any); l["ApplicationNamespace"] != "ssl" || l["ApplicationData"] != "example.com" {
		t.Errorf("Application Specific Information = %v", l)
	}

	// The deleted instance is printed.
	out := ok(t, conn, "key", "attr", "delete", id, "Name", "--index", "1")
	if !regexpMatch(`(?s)^NAME\s+INDEX\s+VALUE\nName\s+1\s+NameValue=second-renamed`, out) {
		t.Errorf("delete printed %q", out)
	}

	fails(t, conn, `unknown attribute "Colour"`, "key", "attr", "add", id, "Colour", "red")
	fails(t, conn, "--type applies to custom attributes", "key", "attr", "add", id, "Object Group", "x", "--type", "integer")
	fails(t, conn, "invalid --type", "key", "attr", "add", id, "x-a", "1", "--type", "float")
	fails(t, conn, "want an RFC 3339 date", "key", "attr", "add", id, "Deactivation Date", "tomorrow")
	fails(t, conn, "want a 32-bit integer", "key", "attr", "add", id, "x-n", "1e3", "--type", "integer")
	fails(t, conn, `"State" is set by the server`, "key", "attr", "add", id, "State", "active")
	fails(t, conn, "want LINK-TYPE:ID", "key", "attr", "add", id, "Link", "abc")
	// The server's refusal is passed on: Object Group is not modifiable.
	fails(t, conn, "permission denied", "key", "attr", "modify", id, "Object Group", "other")
	fails(t, conn, "attribute index out of bounds", "key", "attr", "delete", id, "x-owner", "--index", "5")
}

func TestKeyRekeyArchiveRecover(t *testing.T) {
	clearEnv(t)
	conn := startRealKMS(t)
	old := ok(t, conn, "key", "create", "--name", "rotating", "--activate")
	old = old[:len(old)-1]
	fresh := ok(t, conn, "key", "rekey", old)
	fresh = fresh[:len(fresh)-1]
	if fresh == old || fresh == "" {
		t.Fatalf("rekey returned %q", fresh)
	}
	a := attrsJSON(t, conn, fresh)
	if l := a["Link"].(map[string]any); l["LinkType"] != "ReplacedObjectLink" || l["LinkedObjectIdentifier"] != old {
		t.Errorf("new key's link %v", l)
	}
	if got := ok(t, conn, "key", "archive", fresh); got != "archived "+fresh+"\n" {
		t.Errorf("archive printed %q", got)
	}
	fails(t, conn, "object is archived", "key", "get", fresh)
	if got := ok(t, conn, "key", "recover", fresh); got != "recovered "+fresh+"\n" {
		t.Errorf("recover printed %q", got)
	}
	ok(t, conn, "key", "get", fresh)
	fails(t, conn, "item not found", "key", "rekey", "no-such-key")
	fails(t, conn, "invalid --offset", "key", "rekey", old, "--offset", "1500ms")
}

func TestQueryAndDiscover(t *testing.T) {
	clearEnv(t)
	conn := startRealKMS(t)
	r := decodeJSON[queryResult](t, ok(t, conn, "-o", "json", "query"))
	if r.Version != "1.4" || r.Vendor == "" || !slices.Contains(r.Operations, "create-key-pair") || !slices.Contains(r.ObjectTypes, "symmetric-key") {
		t.Errorf("query = %+v", r)
	}
	r = decodeJSON[queryResult](t, ok(t, conn, "-o", "json", "query", "--what", "capabilities,profiles"))
	if len(r.Capabilities) != 1 || r.Capabilities[0].DestroyAction != "key-material-deleted" || len(r.Profiles) == 0 || r.Operations != nil {
		t.Errorf("query capabilities = %+v", r)
	}
	out := ok(t, append(slices.Clone(conn), "--kmip-version", "1.2"), "query", "--what", "capabilities")
	if !regexpMatch(`capabilities:\s+not asked: KMIP 1.3 defines it, the connection uses 1.2`, out) {
		t.Errorf("query at 1.2 printed %q", out)
	}
	fails(t, conn, "invalid --what", "query", "--what", "colours")

	if got := ok(t, conn, "discover"); got != "1.4\n1.3\n1.2\n1.1\n1.0\n" {
		t.Errorf("discover printed %q", got)
	}
	fails(t, append(slices.Clone(conn), "--kmip-version", "1.0"), "Discover Versions is a KMIP 1.1 operation", "discover")
}
