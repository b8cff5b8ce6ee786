package seal

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSealedBarrierRefuses(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	bd := Binding{ID: "obj", Owner: "o"}
	blob, err := c.b.SealObject(bd, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	jk, err := NewJoinKey()
	if err != nil {
		t.Fatal(err)
	}
	root := c.b.root // the live slice: Seal must zero it in place
	c.b.Seal()
	c.b.Seal() // idempotent
	if !bytes.Equal(root, make([]byte, keySize)) {
		t.Fatal("Seal left root key bytes in memory")
	}
	if !c.b.Sealed() || c.b.ClusterID() != "" || len(c.b.cache) != 0 {
		t.Fatalf("after Seal: sealed %v, cluster id %q, %d cached keys", c.b.Sealed(), c.b.ClusterID(), len(c.b.cache))
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"SealObject", func() error { _, err := c.b.SealObject(bd, []byte("x")); return err }},
		{"OpenObject", func() error { _, err := c.b.OpenObject(bd, blob); return err }},
		{"NewDataKey", func() error { _, err := c.b.NewDataKey(2); return err }},
		{"SealDataKey", func() error { _, err := c.b.SealDataKey(2, make([]byte, keySize)); return err }},
		{"SnapshotMAC", func() error { _, err := c.b.SnapshotMAC(); return err }},
		{"WrapRootFor", func() error { _, err := c.b.WrapRootFor(jk.Public(), nil); return err }},
		{"Record", func() error { _, err := c.b.Record(); return err }},
		{"Protect", func() error { return c.b.Protect(t.TempDir(), InitOptions{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrSealed) {
				t.Fatalf("got %v, want ErrSealed", err)
			}
		})
	}
	// And it unseals again from its record.
	if err := c.b.UnsealFile(c.dir); err != nil {
		t.Fatal(err)
	}
	if pt, err := c.b.OpenObject(bd, blob); err != nil || string(pt) != "x" {
		t.Fatalf("after unseal: %q, %v", pt, err)
	}
}

// TestConcurrentSeal runs sealers and openers while Seal runs (use -race):
// every operation either works or fails with ErrSealed, and none works once
// Seal has returned.
func TestConcurrentSeal(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	bd := Binding{ID: "obj", Owner: "o"}
	blob, err := c.b.SealObject(bd, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	var sealedDone atomic.Bool
	var ok, refused atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			<-start
			for range 300 {
				after := sealedDone.Load()
				var err error
				if i%2 == 0 {
					_, err = c.b.SealObject(bd, []byte("payload"))
				} else {
					var pt []byte
					pt, err = c.b.OpenObject(bd, blob)
					if err == nil && string(pt) != "payload" {
						t.Errorf("opened %q", pt)
					}
				}
				switch {
				case err == nil && after:
					t.Error("an operation worked after Seal returned")
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrSealed):
					refused.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			<-start
			for ok.Load() < 50 {
				_ = c.b.ClusterID()
			}
			c.b.Seal()
			sealedDone.Store(true)
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("%d operations worked and %d were refused; want some of each", ok.Load(), refused.Load())
	}
}

func TestSnapshotMAC(t *testing.T) {
	c, _ := newTestCluster(t, InitOptions{})
	other, _ := newTestCluster(t, InitOptions{})
	twin := barrierWithRoot(t, c)
	sum := func(b *Barrier) []byte {
		h, err := b.SnapshotMAC()
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte("snapshot bytes"))
		return h.Sum(nil)
	}
	if !bytes.Equal(sum(c.b), sum(twin)) {
		t.Fatal("two nodes of one cluster compute different snapshot MACs")
	}
	if bytes.Equal(sum(c.b), sum(other.b)) {
		t.Fatal("two clusters compute the same snapshot MAC")
	}
	if len(sum(c.b)) != 32 {
		t.Fatal("not HMAC-SHA256")
	}
}
