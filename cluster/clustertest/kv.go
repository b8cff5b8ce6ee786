package clustertest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// KV is a replicated map: each command is "key=value". ApplyLog returns the
// previous value, so a forwarded result can be checked.
type KV struct {
	mu      sync.RWMutex
	m       map[string]string
	applied uint64
}

// NewKV returns an empty store.
func NewKV() *KV { return &KV{m: map[string]string{}} }

// ApplyLog implements cluster.StateMachine.
func (kv *KV) ApplyLog(index uint64, data []byte) any {
	k, v, ok := strings.Cut(string(data), "=")
	if !ok {
		panic("clustertest: bad command " + string(data))
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.applied = index
	prev := kv.m[k]
	kv.m[k] = v
	return prev
}

// AppliedIndex implements cluster.StateMachine.
func (kv *KV) AppliedIndex() uint64 {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return kv.applied
}

// Get returns a value.
func (kv *KV) Get(k string) (string, bool) {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	v, ok := kv.m[k]
	return v, ok
}

// Digest implements cluster.StateMachine.
func (kv *KV) Digest() ([32]byte, error) {
	var buf bytes.Buffer
	if err := kv.SnapshotState().Persist(&buf); err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(buf.Bytes()), nil
}

// Count implements cluster.StateMachine.
func (kv *KV) Count() int {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	return len(kv.m)
}

type kvSnapshot []byte

func (s kvSnapshot) Persist(w io.Writer) error { _, err := w.Write(s); return err }

// SnapshotState implements cluster.StateMachine.
func (kv *KV) SnapshotState() interface{ Persist(io.Writer) error } {
	kv.mu.RLock()
	defer kv.mu.RUnlock()
	keys := make([]string, 0, len(kv.m))
	for k := range kv.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "KV %d\n", kv.applied)
	for _, k := range keys {
		b, _ := json.Marshal([2]string{k, kv.m[k]})
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return kvSnapshot(buf.Bytes())
}

func decode(r io.Reader) (map[string]string, uint64, error) {
	sc := bufio.NewScanner(r)
	var applied uint64
	if !sc.Scan() {
		return nil, 0, errors.New("clustertest: not a KV snapshot")
	}
	if _, err := fmt.Sscanf(sc.Text(), "KV %d", &applied); err != nil {
		return nil, 0, errors.New("clustertest: not a KV snapshot")
	}
	m := map[string]string{}
	for sc.Scan() {
		var kvp [2]string
		if err := json.Unmarshal(sc.Bytes(), &kvp); err != nil {
			return nil, 0, err
		}
		m[kvp[0]] = kvp[1]
	}
	return m, applied, sc.Err()
}

// Restore implements cluster.StateMachine.
func (kv *KV) Restore(r io.Reader) error {
	m, applied, err := decode(r)
	if err != nil {
		return err
	}
	kv.mu.Lock()
	kv.m, kv.applied = m, applied
	kv.mu.Unlock()
	return nil
}

// ValidateSnapshot implements cluster.StateMachine.
func (kv *KV) ValidateSnapshot(r io.Reader) error {
	_, _, err := decode(r)
	return err
}

// EncodeResult implements cluster.StateMachine.
func (kv *KV) EncodeResult(v any) ([]byte, error) { return []byte(v.(string)), nil }

// DecodeResult implements cluster.StateMachine.
func (kv *KV) DecodeResult(b []byte) (any, error) { return string(b), nil }
