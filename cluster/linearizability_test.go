package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one client operation: a write through Apply, or a read served
// locally after a read barrier, on any node.
type kvInput struct {
	write bool
	key   string
	value string
}

// registerModel is a map of independent registers, partitioned by key.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, output)
	},
}

// Writes through any node and barrier reads through any node form a
// linearizable history, also across a leader change in the middle.
func TestLinearizableReadsAndWrites(t *testing.T) {
	c := threeNodes(t)
	var (
		mu      sync.Mutex
		history []porcupine.Operation
	)
	start := time.Now()
	stamp := func() int64 { return int64(time.Since(start)) }
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for client := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			for i := range 40 {
				n := c.Nodes[rng.IntN(len(c.Nodes))]
				in := kvInput{key: keys[rng.IntN(len(keys))], write: rng.IntN(2) == 0}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				call := stamp()
				var out string
				var err error
				if in.write {
					in.value = fmt.Sprintf("%d-%d", client, i)
					cmd := in.key + "=" + in.value
					_, err = n.Node.Apply(ctx, []byte(cmd))
				} else if err = n.Node.ReadBarrier(ctx); err == nil {
					out, _ = n.KV.Get(in.key)
				}
				ret := stamp()
				cancel()
				if err != nil {
					// An operation whose outcome is unknown cannot be
					// recorded as done; the test only uses clean runs.
					t.Errorf("client %d op %d on %s: %v", client, i, n.ID, err)
					return
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	// A leader change while the clients run.
	time.Sleep(100 * time.Millisecond)
	if err := c.Leader().Node.TransferLeadership(context.Background(), ""); err != nil {
		t.Logf("leadership transfer: %v", err)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	res := porcupine.CheckOperationsTimeout(registerModel, history, 30*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable (%s)", len(history), res)
	}
	t.Logf("%d operations, linearizable", len(history))
}
