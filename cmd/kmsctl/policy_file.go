package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kmsd/kmsd/kmip/policy"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// maxPolicyFile bounds a policy file.
const maxPolicyFile = 16 << 20

// readPolicyFile reads one entry or an array of entries; "ca_file" in an
// identity becomes "ca", the fingerprint of the file's first certificate.
func readPolicyFile(stdin io.Reader, name string) ([]*kmsdpb.PolicyEntry, error) {
	var r io.Reader = stdin
	dir := "."
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, dir = f, filepath.Dir(name)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPolicyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxPolicyFile)
	}
	data = bytes.TrimSpace(data)
	var raw []map[string]any
	if len(data) > 0 && data[0] == '[' {
		err = decodeNumbers(data, &raw)
	} else {
		var one map[string]any
		err = decodeNumbers(data, &one)
		raw = []map[string]any{one}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a JSON policy entry or array of entries: %v", name, err)
	}
	entries := make([]*kmsdpb.PolicyEntry, 0, len(raw))
	for i, m := range raw {
		if err := checkTenantShape(m); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", name, i+1, err)
		}
		if err := hashPasswords(m); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", name, i+1, err)
		}
		if err := resolveCAFiles(m, dir); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", name, i+1, err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		e := &kmsdpb.PolicyEntry{}
		if err := protojson.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("%s: entry %d: %v", name, i+1, err)
		}
		if e.GetName() == "" {
			return nil, fmt.Errorf("%s: entry %d has no name", name, i+1)
		}
		if e.GetBinding() == nil && e.GetRole() == nil && e.GetTenant() == nil {
			return nil, fmt.Errorf(`%s: entry %q is neither a binding, a role nor a tenant entry: give it "binding", "role" or "tenant" (see kmsctl policy set --help)`, name, e.GetName())
		}
		if e.GetTenant() != nil {
			if err := checkTenantEntry(e); err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", name, i+1, err)
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// decodeNumbers decodes one JSON value, keeping numbers as written: a
// quota above 2^53 must not round to one that passes the check.
func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more after the first JSON value")
	}
	return nil
}

// hashPasswords replaces the "password" of each credential of a binding
// with its Argon2id hash: a password never leaves kmsctl.
func hashPasswords(entry map[string]any) error {
	b, _ := entry["binding"].(map[string]any)
	creds, _ := b["credentials"].([]any)
	for _, c := range creds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		pw, ok := m["password"].(string)
		if !ok {
			continue
		}
		if _, both := m["password_argon2id"]; both {
			return errors.New(`a credential gives both "password" and "password_argon2id"`)
		}
		h, err := policy.HashPassword(pw)
		if err != nil {
			return err
		}
		delete(m, "password")
		m["password_argon2id"] = h
	}
	return nil
}

func resolveCAFiles(entry map[string]any, dir string) error {
	b, _ := entry["binding"].(map[string]any)
	ids, _ := b["identities"].([]any)
	for _, id := range ids {
		m, ok := id.(map[string]any)
		if !ok {
			continue
		}
		file, ok := m["ca_file"].(string)
		if !ok {
			continue
		}
		if _, both := m["ca"]; both {
			return errors.New(`an identity gives both "ca" and "ca_file"`)
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		fp, err := fingerprintFile(file)
		if err != nil {
			return err
		}
		delete(m, "ca_file")
		m["ca"] = fp
	}
	return nil
}

func fingerprintFile(name string) (string, error) {
	c, err := firstCertificate(name)
	if err != nil {
		return "", err
	}
	return policy.Fingerprint(c), nil
}

// firstCertificate reads the first certificate of a PEM file.
func firstCertificate(name string) (*x509.Certificate, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", name)
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			return c, nil
		}
	}
}
