package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveConn(t *testing.T) {
	pki := func(dir, name string) string { return filepath.Join(dir, "pki", name) }
	tests := []struct {
		name    string
		flags   globalFlags
		set     []string
		env     map[string]string
		want    connConfig
		wantErr string
	}{
		{
			name:  "defaults",
			flags: globalFlags{server: defaultServer},
			want:  connConfig{server: defaultServer},
		},
		{
			name:  "dev-dir fills ca, cert and key",
			flags: globalFlags{server: defaultServer, devDir: "/d"},
			set:   []string{"dev-dir"},
			want:  connConfig{server: defaultServer, ca: pki("/d", "ca.pem"), cert: pki("/d", "client.pem"), key: pki("/d", "client.key")},
		},
		{
			name: "dev-dir from env",
			env:  map[string]string{envDevDir: "/e", envServer: "kms:5696"},
			want: connConfig{server: "kms:5696", ca: pki("/e", "ca.pem"), cert: pki("/e", "client.pem"), key: pki("/e", "client.key")},
		},
		{
			name:  "explicit cert and key keep the dev CA",
			flags: globalFlags{devDir: "/d", cert: "admin.pem", key: "admin.key"},
			set:   []string{"dev-dir", "cert", "key"},
			want:  connConfig{server: defaultServer, ca: pki("/d", "ca.pem"), cert: "admin.pem", key: "admin.key"},
		},
		{
			name:  "flag beats env",
			flags: globalFlags{server: "flag:1", ca: "flag-ca.pem"},
			set:   []string{"server", "ca"},
			env:   map[string]string{envServer: "env:1", envCA: "env-ca.pem", envCert: "c.pem", envKey: "k.pem"},
			want:  connConfig{server: "flag:1", ca: "flag-ca.pem", cert: "c.pem", key: "k.pem"},
		},
		{
			name:  "env ca beats dev-dir",
			flags: globalFlags{devDir: "/d"},
			set:   []string{"dev-dir"},
			env:   map[string]string{envCA: "env-ca.pem"},
			want:  connConfig{server: defaultServer, ca: "env-ca.pem", cert: pki("/d", "client.pem"), key: pki("/d", "client.key")},
		},
		{
			name:    "cert without key",
			flags:   globalFlags{cert: "c.pem"},
			set:     []string{"cert"},
			wantErr: "--cert and --key must be given together",
		},
		{
			name:    "bad version",
			flags:   globalFlags{kmipVersion: "2.0"},
			wantErr: "invalid --kmip-version",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := func(name string) bool {
				for _, s := range tt.set {
					if s == name {
						return true
					}
				}
				return false
			}
			getenv := func(k string) string { return tt.env[k] }
			got, err := resolveConn(tt.flags, set, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"": "<nil>", "negotiate": "<nil>", "1.0": "1.0", "1.4": "1.4"} {
		v, err := parseVersion(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		got := "<nil>"
		if v != nil {
			got = v.String()
		}
		if got != want {
			t.Errorf("parseVersion(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := parseVersion("1.5"); err == nil {
		t.Error("parseVersion(1.5) succeeded")
	}
}

func TestParseFlags(t *testing.T) {
	for in, want := range map[string]string{
		"PreActive": "pre-active", "CACompromise": "ca-compromise", "HMAC_SHA256": "hmac-sha256",
		"SymmetricKey": "symmetric-key", "DES3": "des3", "DestroyedCompromised": "destroyed-compromised",
	} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
	if st, err := parseEnum[kmip.State]("state", "pre-active", nil); err != nil || st != kmip.StatePreActive {
		t.Errorf("parse state: %v %v", st, err)
	}
	if ot, err := parseEnum("type", "secret", objectTypeAliases); err != nil || ot != kmip.ObjectTypeSecretData {
		t.Errorf("parse type: %v %v", ot, err)
	}
	if a, err := parseEnum("alg", "TDES", algAliases); err != nil || a != kmip.CryptographicAlgorithm3DES {
		t.Errorf("parse alg: %v %v", a, err)
	}
	if _, err := parseEnum[kmip.RevocationReasonCode]("reason", "oops", nil); err == nil || !strings.Contains(err.Error(), "key-compromise") {
		t.Errorf("bad reason error = %v", err)
	}
	m, err := parseUsage([]string{"encrypt,Decrypt", "wrap-key"})
	if want := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt | kmip.CryptographicUsageWrapKey; err != nil || m != want {
		t.Errorf("parseUsage = %v %v, want %v", m, err, want)
	}
	if _, err := parseUsage([]string{"fly"}); err == nil {
		t.Error("parseUsage(fly) succeeded")
	}
	if a, err := parseSymAlg("hmac-sha512"); err != nil || a.length != 512 || a.usage != macUsage {
		t.Errorf("parseSymAlg = %+v %v", a, err)
	}
}

func TestAttributeValues(t *testing.T) {
	date := time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	idx := int32(1)
	attrs := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameState, AttributeValue: kmip.StateActive},
		{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
		{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
		{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageWrapKey},
		{AttributeName: kmip.AttributeNameActivationDate, AttributeValue: date},
		{AttributeName: kmip.AttributeNameName, AttributeIndex: &idx, AttributeValue: kmip.Name{NameValue: "k1", NameType: kmip.NameTypeUninterpretedTextString}},
		{AttributeName: kmip.AttributeNameDigest, AttributeValue: kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: []byte{0xab, 0xcd}}},
		{AttributeName: kmip.AttributeNameState, AttributeValue: kmip.State(0x42)},
	}
	rows := attributeRows(attrs)

	var text bytes.Buffer
	if err := emit(&text, formatTable, rows); err != nil {
		t.Fatal(err)
	}
	want := `NAME                      INDEX  VALUE
State                     0      Active
Cryptographic Algorithm   0      AES
Cryptographic Length      0      256
Cryptographic Usage Mask  0      Encrypt|WrapKey
Activation Date           0      2024-05-01T10:00:00Z
Name                      1      NameValue=k1 NameType=UninterpretedTextString
Digest                    0      HashingAlgorithm=SHA_256 DigestValue=abcd
State                     0      0x00000042
`
	if text.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", text.String(), want)
	}

	var js bytes.Buffer
	if err := emit(&js, formatJSON, rows); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, js.String())
	}
	if len(got) != len(attrs) || got[2]["value"] != 256.0 || got[4]["value"] != "2024-05-01T10:00:00Z" || got[5]["index"] != 1.0 {
		t.Errorf("json = %v", got)
	}
	if n, _ := got[5]["value"].(map[string]any); n["NameValue"] != "k1" || n["NameType"] != "UninterpretedTextString" {
		t.Errorf("json Name = %v", got[5]["value"])
	}
	// The field order of structures follows KMIP, not the alphabet.
	var compact bytes.Buffer
	if err := json.Compact(&compact, js.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(compact.String(), `{"NameValue":"k1","NameType":"UninterpretedTextString"}`) {
		t.Errorf("json Name field order:\n%s", js.String())
	}

	js.Reset()
	if err := emit(&js, formatJSON, attributeRows(nil)); err != nil || strings.TrimSpace(js.String()) != "[]" {
		t.Errorf("empty attributes json = %q %v", js.String(), err)
	}
}

func TestOutputFormats(t *testing.T) {
	material := []byte{1, 2, 3, 4}
	r := describeObject(&payloads.GetResponsePayload{
		ObjectType:       kmip.ObjectTypeSymmetricKey,
		UniqueIdentifier: "k1",
		Object: &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
			KeyFormatType:          kmip.KeyFormatTypeRaw,
			CryptographicAlgorithm: kmip.CryptographicAlgorithmAES,
			CryptographicLength:    32,
			KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
		}},
	})
	var buf bytes.Buffer
	if err := emit(&buf, formatTable, r); err != nil {
		t.Fatal(err)
	}
	want := `id:          k1
object type: symmetric-key
algorithm:   AES
length:      32
format:      raw
material:    01020304
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := emit(&buf, formatJSON, r); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["material_hex"] != "01020304" || got["object_type"] != "symmetric-key" || got["length"] != 32.0 {
		t.Errorf("json = %v", got)
	}

	buf.Reset()
	if err := emit(&buf, formatJSON, locateResult{IDs: []string{}}); err != nil || strings.Join(strings.Fields(buf.String()), "") != `{"ids":[]}` {
		t.Errorf("empty locate json = %q %v", buf.String(), err)
	}
	if err := checkFormat("yaml"); err == nil {
		t.Error("checkFormat(yaml) succeeded")
	}
	_, errOut, code := kmsctlNoServer(t, "-o", "yaml", "version")
	if code != 1 || errOut != "kmsctl: invalid --output \"yaml\": want table or json\n" {
		t.Errorf("-o yaml: %d %q", code, errOut)
	}
}

func kmsctlNoServer(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		item kmip.ResponseBatchItem
		want string
	}{
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationFailed, ResultReason: kmip.ResultReasonItemNotFound, ResultMessage: "Item not found"}, "item not found"},
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationFailed, ResultReason: kmip.ResultReasonPermissionDenied, ResultMessage: "PermissionDenied"}, "permission denied"},
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationFailed, ResultReason: kmip.ResultReasonIllegalOperation, ResultMessage: "object is Active"}, "wrong key lifecycle state or illegal operation (object is Active)"},
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationFailed, ResultReason: kmip.ResultReasonOperationNotSupported}, "operation not supported by the server"},
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationFailed, ResultReason: kmip.ResultReason(0x999)}, "operation failed: 0x00000999"},
		{kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusOperationPending}, "operation pending"},
	}
	for _, tt := range tests {
		err := itemErr(&tt.item)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("itemErr(%v) = %v, want %q", tt.item.ResultReason, err, tt.want)
		}
		var ke *kmipError
		if !errors.As(fmt.Errorf("get x: %w", err), &ke) || ke.Reason != tt.item.ResultReason {
			t.Errorf("reason not kept in %v", err)
		}
	}
	if err := itemErr(&kmip.ResponseBatchItem{ResultStatus: kmip.ResultStatusSuccess}); err != nil {
		t.Errorf("success mapped to %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	if got := connErr(ctx, ctx.Err()).Error(); got != "timed out" {
		t.Errorf("connErr(deadline) = %q", got)
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	if got := connErr(context.Background(), refused).Error(); got != "connect: connection refused" {
		t.Errorf("connErr(refused) = %q", got)
	}
}

func TestRunNeverPrintsStack(t *testing.T) {
	_, errOut, code := kmsctlNoServer(t, "key", "get")
	if code != 1 || !strings.HasPrefix(errOut, "kmsctl: accepts 1 arg") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("missing arg: %d %q", code, errOut)
	}
	_, errOut, code = kmsctlNoServer(t, "nonsense")
	if code != 1 || !strings.HasPrefix(errOut, "kmsctl: unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	out, _, code := kmsctlNoServer(t, "version", "-o", "json")
	var v versionResult
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.Go == "" {
		t.Errorf("version json: %d %q", code, out)
	}
}
