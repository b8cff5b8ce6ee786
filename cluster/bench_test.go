package cluster_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kmsd/kmsd/cluster/clustertest"
)

// BenchmarkApply measures one write, committed and applied on the node that
// accepted it, through the leader and through a follower (forwarded).
func BenchmarkApply(b *testing.B) {
	c := clustertest.New(b)
	c.Start()
	c.Leader()
	c.Start()
	c.Start()
	c.WaitVoters(3)
	for _, via := range []string{"leader", "follower"} {
		b.Run(via, func(b *testing.B) {
			n := c.Leader()
			if via == "follower" {
				n = c.Follower()
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, err := n.Node.Apply(ctx, fmt.Appendf(nil, "k%d=v", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
