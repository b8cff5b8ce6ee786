package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Record is one audited request: a KMIP batch item or an admin call. Every
// field is plain text the caller chose to record; nothing here is ever key
// material, a secret or a credential.
type Record struct {
	Time      time.Time // zero: now
	Identity  string    // who called: the client certificate's identity
	Tenant    string    // whose objects; "" for the admin API
	Role      string
	Operation string   // "Get", "kmsd.admin.v1.Admin/Status", …
	Objects   []string // ids the request named and the response created or returned
	Success   bool
	// Reason is the KMIP Result Reason name or the gRPC code name of a
	// failure, never internal error text.
	Reason string
	// RequestID is made per request message; Item is the batch item's
	// index in it, or -1 when the request has no batch items.
	RequestID string
	Item      int
	Remote    string // the caller's address
}

// Bounds of what one line records, so that a line stays under MaxLineSize
// whatever a client sends.
const (
	// MaxObjects is the number of object ids one line lists; the rest are
	// counted in objects_omitted.
	MaxObjects = 1000
	// maxField bounds each text field, in bytes; longer ones are cut and
	// end in "…".
	maxField = 200
	// MaxLineSize bounds a line, newline excluded, for readers.
	MaxLineSize = 256 << 10
)

// Result values.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// macSize is the size of a MAC and of an unkeyed chain value (SHA-256).
const macSize = sha256.Size

// line is a line's fields in their order on disk, without the MAC, which
// follows as the last field: `,"mac":"<64 hex>"}`.
type line struct {
	Seq            uint64   `json:"seq"`
	KV             uint32   `json:"kv"`
	Prev           string   `json:"prev"`
	Time           string   `json:"time"`
	Node           string   `json:"node"`
	Identity       string   `json:"identity"`
	Tenant         string   `json:"tenant,omitempty"`
	Role           string   `json:"role,omitempty"`
	Operation      string   `json:"operation"`
	Objects        []string `json:"objects,omitempty"`
	ObjectsOmitted int      `json:"objects_omitted,omitempty"`
	Result         string   `json:"result"`
	Reason         string   `json:"reason,omitempty"`
	Request        string   `json:"request"`
	Item           *int     `json:"item,omitempty"`
	Remote         string   `json:"remote,omitempty"`
}

// timeFormat is RFC 3339 in UTC with all nine digits of nanoseconds.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// newLine turns a record into a line's fields, bounding every field.
func newLine(r Record, node string, now time.Time) line {
	if r.Time.IsZero() {
		r.Time = now
	}
	l := line{
		Time:      r.Time.UTC().Format(timeFormat),
		Node:      cut(node),
		Identity:  cut(r.Identity),
		Tenant:    cut(r.Tenant),
		Role:      cut(r.Role),
		Operation: cut(r.Operation),
		Result:    ResultFailure,
		Reason:    cut(r.Reason),
		Request:   cut(r.RequestID),
		Remote:    cut(r.Remote),
	}
	if r.Success {
		l.Result = ResultSuccess
	}
	if r.Item >= 0 {
		item := r.Item
		l.Item = &item
	}
	objs := r.Objects
	if len(objs) > MaxObjects {
		l.ObjectsOmitted = len(objs) - MaxObjects
		objs = objs[:MaxObjects]
	}
	for _, o := range objs {
		l.Objects = append(l.Objects, cut(o))
	}
	return l
}

// cut bounds s to maxField bytes, dropping a character cut in two.
func cut(s string) string {
	if len(s) <= maxField {
		return s
	}
	return strings.ToValidUTF8(s[:maxField], "") + "…"
}

// body encodes the line without its MAC: the bytes the MAC covers, after
// the previous line's MAC.
func (l *line) body() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		// Only strings, numbers and a list of strings: they always encode.
		panic("audit: cannot encode a line: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// macSuffix is what follows a body's last field: `,"mac":"` hex `"}`.
const (
	macPrefix = `,"mac":"`
	macSuffix = `"}`
	macTail   = len(macPrefix) + 2*macSize + len(macSuffix)
)

// withMAC appends the MAC as the last field and a newline.
func withMAC(body, mac []byte) []byte {
	out := make([]byte, 0, len(body)+macTail+1)
	out = append(out, body[:len(body)-1]...)
	out = append(out, macPrefix...)
	out = hex.AppendEncode(out, mac)
	out = append(out, macSuffix...)
	return append(out, '\n')
}

// Errors of parsing a line.
var (
	errNoMAC       = errors.New("audit: the line does not end in a MAC field")
	errNotJSON     = errors.New("audit: the line is not a JSON object of the audit fields")
	errBadPrev     = errors.New("audit: the prev field is not a 64-digit hex chain value")
	errEmptyRecord = errors.New("audit: the line has no sequence number")
)

// parsed is a line read back: its fields, the bytes its MAC covers and
// the MAC and chain value it carries.
type parsed struct {
	line
	body []byte
	mac  []byte
	prev []byte
}

// parseLine splits a line (without its newline) into the body its MAC
// covers and the MAC, and decodes the body strictly: known fields only.
func parseLine(b []byte) (*parsed, error) {
	if len(b) < macTail+2 || !bytes.HasSuffix(b, []byte(macSuffix)) {
		return nil, errNoMAC
	}
	tail := b[len(b)-macTail:]
	if !bytes.HasPrefix(tail, []byte(macPrefix)) {
		return nil, errNoMAC
	}
	mac, err := hex.DecodeString(string(tail[len(macPrefix) : len(macPrefix)+2*macSize]))
	if err != nil {
		return nil, errNoMAC
	}
	body := make([]byte, 0, len(b)-macTail+1)
	body = append(body, b[:len(b)-macTail]...)
	body = append(body, '}')
	p := &parsed{body: body, mac: mac}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.line); err != nil || dec.More() {
		return nil, errNotJSON
	}
	if p.Seq == 0 {
		return nil, errEmptyRecord
	}
	if p.prev, err = hex.DecodeString(p.Prev); err != nil || len(p.prev) != macSize {
		return nil, errBadPrev
	}
	return p, nil
}

// unkeyedMAC is the chain value of a line written without a key (kv 0):
// SHA-256(previous MAC || body).
func unkeyedMAC(prev, body []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(body)
	return h.Sum(nil)
}

// macInput is what a keyed line's HMAC covers: the previous line's MAC,
// then the body.
func macInput(prev, body []byte) []byte {
	in := make([]byte, 0, len(prev)+len(body))
	return append(append(in, prev...), body...)
}
