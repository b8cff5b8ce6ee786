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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// KV is a replicated map: each command is "key=value". ApplyLog returns the
// previous value, so a forwarded result can be checked. Join tokens are
// kept as keys "\x00token/<hex hash>" whose value is the expiry; a token
// command is "\x00create <hex> <expiry>" or "\x00consume <hex> <time>".
type KV struct {
	mu      sync.RWMutex
	m       map[string]string
	applied uint64
}

// NewKV returns an empty store.
func NewKV() *KV { return &KV{m: map[string]string{}} }

// KV's token errors.
var (
	ErrTokenUnknown = errors.New("join token unknown or already used")
	ErrTokenExpired = errors.New("join token expired")
)

// ApplyLog implements cluster.StateMachine.
func (kv *KV) ApplyLog(index uint64, data []byte) any {
	if err := kv.ValidateCommand(data); err != nil {
		panic("clustertest: " + err.Error())
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.applied = index
	if s, ok := strings.CutPrefix(string(data), "\x00"); ok {
		return kv.applyToken(s)
	}
	k, v, _ := strings.Cut(string(data), "=")
	prev := kv.m[k]
	kv.m[k] = v
	return prev
}

func (kv *KV) applyToken(s string) any {
	var op, hash string
	var at int64
	if _, err := fmt.Sscanf(s, "%s %s %d", &op, &hash, &at); err != nil {
		return err
	}
	key := "\x00token/" + hash
	switch op {
	case "create":
		kv.m[key] = fmt.Sprint(at)
		return ""
	case "consume":
		exp, ok := kv.m[key]
		if !ok {
			return ErrTokenUnknown
		}
		if e, _ := strconv.ParseInt(exp, 10, 64); at >= e {
			return ErrTokenExpired
		}
		delete(kv.m, key)
		return ""
	}
	return fmt.Errorf("unknown token command %q", op)
}

// ValidateCommand implements cluster.StateMachine.
func (kv *KV) ValidateCommand(data []byte) error {
	if strings.HasPrefix(string(data), "\x00") || strings.Contains(string(data), "=") {
		return nil
	}
	return errors.New("clustertest: bad command")
}

// EncodeCreateJoinToken implements cluster.StateMachine.
func (kv *KV) EncodeCreateJoinToken(_ *kmsdpb.Command, hash []byte, expires time.Time) ([]byte, error) {
	return fmt.Appendf(nil, "\x00create %x %d", hash, expires.UnixNano()), nil
}

// EncodeConsumeJoinToken implements cluster.StateMachine.
func (kv *KV) EncodeConsumeJoinToken(env *kmsdpb.Command, hash []byte, _ string) ([]byte, error) {
	return fmt.Appendf(nil, "\x00consume %x %d", hash, env.GetTimeUnixNano()), nil
}

// ClusterState implements cluster.StateMachine: KV keeps no keyring.
func (kv *KV) ClusterState() (string, []uint32) { return "", nil }

// Outcome implements cluster.StateMachine.
func (kv *KV) Outcome(res any) error {
	if err, ok := res.(error); ok {
		return err
	}
	return nil
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

type kvSnapshot struct {
	b     []byte
	index uint64
}

func (s kvSnapshot) Persist(w io.Writer) error { _, err := w.Write(s.b); return err }
func (s kvSnapshot) Index() uint64             { return s.index }
func (s kvSnapshot) KeyVersions() []uint32     { return nil }

// SnapshotState implements cluster.StateMachine.
func (kv *KV) SnapshotState() interface {
	Persist(io.Writer) error
	Index() uint64
	KeyVersions() []uint32
} {
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
	return kvSnapshot{b: buf.Bytes(), index: kv.applied}
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

// EncodeResult implements cluster.StateMachine: a value, or "\x00" and an
// error text.
func (kv *KV) EncodeResult(v any) ([]byte, error) {
	if err, ok := v.(error); ok {
		return []byte("\x00" + err.Error()), nil
	}
	return []byte(v.(string)), nil
}

// DecodeResult implements cluster.StateMachine.
func (kv *KV) DecodeResult(b []byte) (any, error) {
	if s, ok := strings.CutPrefix(string(b), "\x00"); ok {
		for _, e := range []error{ErrTokenUnknown, ErrTokenExpired} {
			if s == e.Error() {
				return e, nil
			}
		}
		return errors.New(s), nil
	}
	return string(b), nil
}
