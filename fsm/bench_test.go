package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// benchTenant owns the objects of the benchmark stores; benchOther owns a
// few more, so that the tenant scoping is exercised.
const (
	benchTenant = "tenant-a"
	benchOther  = "tenant-b"
)

// benchStart is the command time of the first benchmark object; object i is
// created i milliseconds later.
var benchStart = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func benchID(i int) string { return fmt.Sprintf("%08x-6f2c-4d1e-9a3b-%012x", i, i*7919) }

func benchName(i int) string { return fmt.Sprintf("netapp-key-%07d", i) }

// benchAES256 is what a KMIP Create of an AES-256 key stores (kmip/create.go):
// Object Type, the client's template (algorithm, length, usage mask, a
// name, a custom attribute as ONTAP sends one), then what the server derives
// (generator, digest, lease time, creation date, the Fresh, Sensitive and
// Extractable flags). The store adds the Unique Identifier, State, Initial
// and Last Change Dates.
func benchAES256(i int, at time.Time) *kmsdpb.StoredObject {
	digest := make([]byte, 32)
	binary.BigEndian.PutUint64(digest, uint64(i)*0x9e3779b97f4a7c15)
	attrs := []kmip.Attribute{
		attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey),
		attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
		attr(kmip.AttributeNameCryptographicLength, int32(256)),
		attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt),
		attr(kmip.AttributeNameName, kmip.Name{NameValue: benchName(i), NameType: kmip.NameTypeUninterpretedTextString}),
		attr("x-NETAPP-ClusterId", custom(fmt.Sprintf("cluster-%d", i%4))),
		attr(kmip.AttributeNameRandomNumberGenerator, kmip.RNGParameters{RNGAlgorithm: kmip.RNGAlgorithmUnspecified}),
		attr(kmip.AttributeNameDigest, kmip.Digest{HashingAlgorithm: kmip.HashingAlgorithmSHA_256, DigestValue: digest, KeyFormatType: kmip.KeyFormatTypeRaw}),
		attr(kmip.AttributeNameLeaseTime, time.Hour),
		attr(kmip.AttributeNameOriginalCreationDate, at.Truncate(time.Second)),
		attr(kmip.AttributeNameFresh, true),
		attr(kmip.AttributeNameSensitive, false),
		attr(kmip.AttributeNameExtractable, true),
		attr(kmip.AttributeNameAlwaysSensitive, false),
		attr(kmip.AttributeNameNeverExtractable, false),
	}
	p := storedObject(benchID(i), attrs)
	// An AES-256 key sealed as kmip/ does it: the TTLV Symmetric Key under
	// AES-256-GCM, with a key version, nonce and tag.
	p.SealedMaterial = make([]byte, 150)
	binary.BigEndian.PutUint64(p.SealedMaterial, uint64(i))
	return p
}

// benchRequestID is a 16-byte request id, as kmip/ draws one per command.
func benchRequestID(i int) []byte {
	id := make([]byte, 16)
	binary.BigEndian.PutUint64(id, uint64(i))
	binary.BigEndian.PutUint64(id[8:], 0x6b6d7364)
	return id
}

// benchCreate is the log entry creating benchmark object i.
func benchCreate(tb testing.TB, owner string, i int) []byte {
	at := benchStart.Add(time.Duration(i) * time.Millisecond)
	e := &kmsdpb.Command{TimeUnixNano: at.UnixNano(), Actor: owner, RequestId: benchRequestID(i)}
	return mustEncode(tb, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, e, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{benchAES256(i, at)}})
}

// fillStore applies n creates, every 16th owned by benchOther. It runs the
// code of Apply (decodeEntry, applyOnce) but commits a transaction every
// 4096 entries rather than every entry, to build the large stores quickly.
func fillStore(tb testing.TB, f *FSM, n int) {
	const perTxn = 4096
	tx := f.db.Txn(true)
	for i := range n {
		owner := benchTenant
		if i%16 == 15 {
			owner = benchOther
		}
		index := uint64(i + 1)
		cmd, def, body, err := decodeEntry(benchCreate(tb, owner, i))
		if err != nil {
			tb.Fatal(err)
		}
		c := &applyCtx{index: index, cmd: cmd, now: time.Unix(0, cmd.GetTimeUnixNano()).UTC().Truncate(time.Second)}
		if _, err := f.applyOnce(tx, c, def, body); err != nil {
			tb.Fatalf("create %d: %v", i, err)
		}
		if i%perTxn == perTxn-1 {
			tx.Commit()
			tx = f.db.Txn(true)
		}
	}
	tx.Commit()
	f.applied = uint64(n)
}

var (
	benchStoresMu sync.Mutex
	benchStores   = map[int]*FSM{}
)

// benchStore returns a store of n objects, built once per test binary run.
func benchStore(tb testing.TB, n int) *FSM {
	benchStoresMu.Lock()
	defer benchStoresMu.Unlock()
	if f, ok := benchStores[n]; ok {
		return f
	}
	// One large store at a time keeps the memory of the 1M case bounded.
	clear(benchStores)
	runtime.GC()
	f := New(Config{})
	fillStore(tb, f, n)
	benchStores[n] = f
	return f
}

var benchSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

func BenchmarkLocateByName(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			f := benchStore(b, size.n)
			now := benchStart.Add(time.Duration(size.n) * time.Millisecond)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				k := (i * 7919) % size.n
				if k%16 == 15 {
					k--
				}
				ids, total, err := f.Locate(Query{Owner: benchTenant, Now: now, Filters: []kmip.Attribute{
					attr(kmip.AttributeNameName, kmip.Name{NameValue: benchName(k), NameType: kmip.NameTypeUninterpretedTextString}),
				}})
				if err != nil || total != 1 || len(ids) != 1 || ids[0] != benchID(k) {
					b.Fatalf("Locate %s: %v %d %v", benchName(k), ids, total, err)
				}
			}
		})
	}
}

// BenchmarkLocateByType asks for a page of 100 of the tenant's symmetric
// keys: the whole tenant matches, so the total is a full count.
func BenchmarkLocateByType(b *testing.B) {
	for _, size := range benchSizes[:2] {
		b.Run(size.name, func(b *testing.B) {
			f := benchStore(b, size.n)
			now := benchStart.Add(time.Duration(size.n) * time.Millisecond)
			want := size.n - size.n/16
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				ids, total, err := f.Locate(Query{Owner: benchTenant, Now: now, MaxItems: 100, Offset: (i % 10) * 100,
					Filters: []kmip.Attribute{attr(kmip.AttributeNameObjectType, kmip.ObjectTypeSymmetricKey)}})
				if err != nil || total != want || len(ids) != 100 {
					b.Fatalf("Locate: %d ids, total %d, %v", len(ids), total, err)
				}
			}
		})
	}
}

// BenchmarkLocateCustom finds the keys of one ONTAP cluster (a quarter of
// the tenant), a page at a time.
func BenchmarkLocateCustom(b *testing.B) {
	f := benchStore(b, 100_000)
	now := benchStart.Add(100_000 * time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		ids, total, err := f.Locate(Query{Owner: benchTenant, Now: now, MaxItems: 10,
			Filters: []kmip.Attribute{attr("x-NETAPP-ClusterId", custom("cluster-1"))}})
		if err != nil || total == 0 || len(ids) != 10 {
			b.Fatalf("Locate: %d ids, total %d, %v", len(ids), total, err)
		}
	}
}

// BenchmarkApplyCreate applies one create of an AES-256 key into a store
// that already holds 100k objects.
func BenchmarkApplyCreate(b *testing.B) {
	const base, chunk = 100_000, 1 << 14
	f := New(Config{})
	fillStore(b, f, base)
	entries := make([][]byte, chunk)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%chunk == 0 {
			b.StopTimer()
			for j := range entries {
				entries[j] = benchCreate(b, benchTenant, base+i+j)
			}
			b.StartTimer()
		}
		if res := f.Apply(uint64(base+i+1), entries[i%chunk]); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkObjectHeap measures the heap held per stored AES-256 key: objects
// created through Apply, one a millisecond of command time. "requests"
// creates them within 15 minutes, so every request id is still remembered;
// "objects" spreads them over a day, so the remembered ids are those of the
// last 15 minutes only.
func BenchmarkObjectHeap(b *testing.B) {
	const n = 100_000
	for _, tc := range []struct {
		name string
		step time.Duration
	}{{"objects", time.Second}, {"requests", time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				entries := make([][]byte, n)
				for i := range n {
					at := benchStart.Add(time.Duration(i) * tc.step)
					e := &kmsdpb.Command{TimeUnixNano: at.UnixNano(), Actor: benchTenant, RequestId: benchRequestID(i)}
					entries[i] = mustEncode(b, kmsdpb.CommandType_COMMAND_TYPE_CREATE_OBJECTS, e, &kmsdpb.CreateObjects{Objects: []*kmsdpb.StoredObject{benchAES256(i, at)}})
				}
				before := heapInUse()
				f := New(Config{})
				b.StartTimer()
				for i, data := range entries {
					if res := f.Apply(uint64(i+1), data); res.Err != nil {
						b.Fatal(res.Err)
					}
				}
				b.StopTimer()
				entries = nil
				after := heapInUse()
				b.ReportMetric(float64(after-before)/n, "B/object")
				runtime.KeepAlive(f)
				b.StartTimer()
			}
		})
	}
}

// benchSnapshot returns the snapshot bytes of a store of n objects, and
// frees the store so that a restore has the memory to itself.
func benchSnapshot(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	if err := benchStore(b, n).Snapshot().Persist(&buf); err != nil {
		b.Fatal(err)
	}
	benchStoresMu.Lock()
	clear(benchStores)
	benchStoresMu.Unlock()
	runtime.GC()
	return buf.Bytes()
}

func BenchmarkRestore(b *testing.B) {
	for _, size := range benchSizes[1:] {
		b.Run(size.name, func(b *testing.B) {
			snap := benchSnapshot(b, size.n)
			b.SetBytes(int64(len(snap)))
			b.ResetTimer()
			for b.Loop() {
				f := New(Config{})
				if err := f.Restore(bytes.NewReader(snap)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discard struct{ n int64 }

func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

func BenchmarkPersist(b *testing.B) {
	for _, size := range benchSizes[1:] {
		b.Run(size.name, func(b *testing.B) {
			f := benchStore(b, size.n)
			b.ResetTimer()
			for b.Loop() {
				var d discard
				if err := f.Snapshot().Persist(&d); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(d.n)
			}
		})
	}
}
