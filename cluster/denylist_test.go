package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/clustertest"
	"github.com/kmsd/kmsd/cluster/denylist"
)

// TestRevokedNodeIsCutOff: revoking a follower's node certificate on every
// node closes its Raft connections and refuses new ones, so it applies
// nothing more while the other two go on committing; given a new
// certificate and restarted, it catches up.
func TestRevokedNodeIsCutOff(t *testing.T) {
	c := clustertest.New(t)
	guards := map[string]*denylist.Guard{}
	start := func() *clustertest.Node {
		g := denylist.NewGuard()
		n := c.Start(func(cfg *cluster.Config) { cfg.Guard = g })
		guards[n.ID] = g
		return n
	}
	start()
	c.Leader()
	start()
	start()
	c.WaitVoters(3)
	f := c.Follower()
	apply(t, c.Leader(), "k=1")

	l := denylist.NewList([]denylist.Entry{denylist.ForCertificate(f.Cfg.ServerTLS.Certificates[0].Leaf, "test")})
	closed := 0
	for _, g := range guards {
		g.Checker.Set(l)
		closed += g.Conns.CloseRevoked(l, nil)
	}
	if closed == 0 {
		t.Fatal("no connection of the revoked node was open")
	}
	apply(t, c.Leader(), "k=2")
	apply(t, c.Leader(), "k=3")
	// Raft sends the revoked node nothing more: give it time to show
	// that it does not catch up.
	time.Sleep(time.Second)
	if v, _ := f.KV.Get("k"); v == "3" {
		t.Fatal("the revoked node still receives the log")
	}

	// The operator's way back: a new certificate, then a restart.
	f.Stop()
	cert := c.PKI.NodeCert(f.ID)
	f.Cfg.ServerTLS, f.Cfg.ClientTLS = c.PKI.ServerTLS(cert), c.PKI.ClientTLS(cert)
	f.Restart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if v, _ := f.KV.Get("k"); v == "3" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the node with a new certificate did not catch up")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
