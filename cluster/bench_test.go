package cluster_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/kmsd/kmsd/cluster/clustertest"
)

// BenchmarkApply measures one write, committed and applied on the node that
// accepted it, through the leader and through a follower (forwarded).
func BenchmarkApply(b *testing.B) {
	c := threeNodes(b)
	for _, name := range []string{"leader", "follower"} {
		b.Run(name, func(b *testing.B) {
			n := via(c, name)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, err := n.Node.Apply(ctx, fmt.Appendf(nil, "k%d=v", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadBarrier measures linearizable read barriers, one caller at a
// time and 32 at once, on the leader and on a follower: concurrent callers
// share read index rounds, so their cost per read falls.
func BenchmarkReadBarrier(b *testing.B) {
	c := threeNodes(b)
	apply(b, c.Leader(), "k=v")
	for _, name := range []string{"leader", "follower"} {
		n := via(c, name)
		b.Run(name+"/serial", func(b *testing.B) {
			for b.Loop() {
				if err := n.Node.ReadBarrier(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel-32", func(b *testing.B) {
			b.SetParallelism(16) // 16 x GOMAXPROCS(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := n.Node.ReadBarrier(context.Background()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkApplyParallel measures writes from 32 concurrent callers through
// the leader and through a follower (forwarded), which then waits for its
// own state machine.
func BenchmarkApplyParallel(b *testing.B) {
	c := threeNodes(b)
	for _, name := range []string{"leader", "follower"} {
		b.Run(name, func(b *testing.B) {
			n := via(c, name)
			var seq atomic.Int64
			b.SetParallelism(16) // 16 x GOMAXPROCS(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := n.Node.Apply(context.Background(), fmt.Appendf(nil, "k%d=v", seq.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// via returns the leader, or a follower for name "follower".
func via(c *clustertest.Cluster, name string) *clustertest.Node {
	if name == "follower" {
		return c.Follower()
	}
	return c.Leader()
}
