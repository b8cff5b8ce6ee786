package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
)

// With cleanup on, autopilot removes a server gossip declares dead, but never
// shrinks the cluster below the minimum quorum.
func TestAutopilotRemovesDeadServers(t *testing.T) {
	cleanup := func(cfg *cluster.Config) {
		cfg.Autopilot.CleanupDeadServers = true
		cfg.Autopilot.MinQuorum = 3
	}
	c := clustertest.New(t)
	c.Start(cleanup)
	c.Leader()
	for range 3 {
		c.Start(cleanup)
	}
	c.WaitVoters(4)

	dead := c.Follower()
	dead.Stop()
	c.WaitVoters(3)

	// At the minimum quorum, a second dead server stays in the
	// configuration.
	c.Follower().Stop()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, err := c.Leader().Node.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Voters < 3 {
			t.Fatalf("autopilot went below the minimum quorum: %d voters", st.Voters)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
