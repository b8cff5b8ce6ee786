package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster/audit/audittest"
)

// fakeKeys is a keyring of audit keys in memory.
type fakeKeys struct {
	mu     sync.Mutex
	keys   map[uint32][]byte
	latest uint32
	sealed bool
}

var errFakeSealed = errors.New("sealed")

func newFakeKeys() *fakeKeys {
	k := &fakeKeys{keys: map[uint32][]byte{}}
	k.rotate()
	return k
}

// rotate adds a version and makes it the newest.
func (k *fakeKeys) rotate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.latest++
	k.keys[k.latest] = bytes.Repeat([]byte{byte(k.latest)}, 32)
}

func (k *fakeKeys) retire(v uint32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, v)
}

func (k *fakeKeys) setSealed(s bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sealed = s
}

func (k *fakeKeys) AuditKeyVersion() (uint32, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sealed {
		return 0, errFakeSealed
	}
	return k.latest, nil
}

func (k *fakeKeys) AuditMAC(v uint32, data []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sealed {
		return nil, errFakeSealed
	}
	key, ok := k.keys[v]
	if !ok {
		return nil, fmt.Errorf("no version %d", v)
	}
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil), nil
}

var testTime = time.Date(2026, 12, 4, 14, 20, 27, 123456789, time.UTC)

// record is a KMIP-like record number i.
func record(i int) Record {
	return Record{
		Time: testTime.Add(time.Duration(i) * time.Millisecond), Identity: "alice", Tenant: "alice", Role: "client",
		Operation: "Get", Objects: []string{fmt.Sprintf("obj-%d", i)}, Success: i%3 != 0, Reason: reasonOf(i),
		RequestID: fmt.Sprintf("req-%d", i/2), Item: i % 2, Remote: "10.0.0.7:5000",
	}
}

func reasonOf(i int) string {
	if i%3 == 0 {
		return "ItemNotFound"
	}
	return ""
}

// writeLog records n lines through a Log over keys and returns them.
func writeLog(t *testing.T, keys Keys, n int) []string {
	t.Helper()
	sink := &audittest.Sink{}
	l := New(Config{Node: "node-1", Keys: keys, Sinks: []Sink{sink}})
	for i := range n {
		if err := l.Record(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	return sink.Lines()
}

// verify runs lines (each ending in "\n" except perhaps the last) through a
// Stream as one file.
func verify(t *testing.T, keys MACer, files ...[]string) Report {
	t.Helper()
	s := NewStream(keys, 0)
	for i, f := range files {
		if err := s.StartFile(fmt.Sprintf("f%d", i+1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Write([]byte(strings.Join(f, ""))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }
