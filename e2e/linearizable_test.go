package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/e2e/harness"
)

// linAttr is the custom attribute the workload writes and reads.
const linAttr = kmip.AttributeName("x-lin")

// keyOp is one client operation on one key.
type keyOp struct {
	kind  string // modify, attrs, get, destroy
	key   string
	value string // modify: the value written
}

// keyResult is what the server answered; ok false is a KMIP failure.
type keyResult struct {
	ok     bool
	value  string // attrs: the value read
	reason string // of a failure, for the report
}

// keyState is the model of one key: the attribute value and whether the
// key was destroyed.
type keyState struct {
	value     string
	destroyed bool
}

// keyModel says what a linearizable store may answer: a Get serves the
// material until a Destroy is acknowledged and never after; Get Attributes
// reads the last value written (a destroyed key keeps its attributes).
var keyModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(keyOp).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return keyState{value: "v0"} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(keyState), input.(keyOp), output.(keyResult)
		switch in.kind {
		case "modify":
			if !out.ok {
				return st.destroyed, st
			}
			st.value = in.value
			return true, st
		case "attrs":
			return out.ok && out.value == st.value, st
		case "get":
			return out.ok == !st.destroyed, st
		case "destroy":
			if !out.ok {
				return st.destroyed, st
			}
			if st.destroyed {
				return false, st
			}
			st.destroyed = true
			return true, st
		}
		return false, st
	},
	Equal: func(a, b any) bool { return a.(keyState) == b.(keyState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(keyOp), output.(keyResult)
		var s string
		switch in.kind {
		case "modify":
			s = fmt.Sprintf("modify(%s, %s)", in.key, in.value)
		case "attrs":
			s = fmt.Sprintf("attrs(%s) -> %s", in.key, out.value)
		default:
			s = fmt.Sprintf("%s(%s)", in.kind, in.key)
		}
		if !out.ok {
			s += " failed: " + out.reason
		}
		return s
	},
}

// TestClusterLinearizableByDefault runs concurrent clients against a
// three-node cluster started with default settings, each client on its own
// connection to one of the nodes, across a leadership transfer: modifies,
// reads of the attribute, Gets and Destroys of a few keys form a
// linearizable history. In particular no Get serves a key's material after
// its Destroy was acknowledged, whichever node answers.
func TestClusterLinearizableByDefault(t *testing.T) {
	c := harness.StartCluster(t, 3, harness.JoinAtStart())
	leader := c.Leader(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	setup, err := dialKMIP(ctx, c, leader)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range 8 {
		resp, err := setup.Create().AES(256, kmip.CryptographicUsageEncrypt).WithAttribute(linAttr, "v0").ExecContext(ctx)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		keys = append(keys, resp.UniqueIdentifier)
	}
	_ = setup.Close()

	var (
		mu      sync.Mutex
		history []porcupine.Operation
	)
	start := time.Now()
	stamp := func() int64 { return int64(time.Since(start)) }
	const clients, opsPerClient = 6, 150
	var wg sync.WaitGroup
	for client := range clients {
		node := client % len(c.Nodes)
		cl, err := dialKMIP(ctx, c, node)
		if err != nil {
			t.Fatalf("dial %s: %v", c.Nodes[node].Name, err)
		}
		defer func() { _ = cl.Close() }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 11))
			for i := range opsPerClient {
				in := keyOp{key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(100); {
				case r < 35:
					in.kind, in.value = "modify", fmt.Sprintf("c%d-%d", client, i)
				case r < 65:
					in.kind = "attrs"
				case r < 99:
					in.kind = "get"
				default:
					in.kind = "destroy"
				}
				var pl kmip.OperationPayload
				switch in.kind {
				case "modify":
					pl = &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: in.key, Attribute: kmip.Attribute{AttributeName: linAttr, AttributeValue: in.value}}
				case "attrs":
					pl = &payloads.GetAttributesRequestPayload{UniqueIdentifier: in.key, AttributeName: []kmip.AttributeName{linAttr}}
				case "get":
					pl = &payloads.GetRequestPayload{UniqueIdentifier: in.key}
				case "destroy":
					pl = &payloads.DestroyRequestPayload{UniqueIdentifier: in.key}
				}
				call := stamp()
				resp, err := cl.Batch(ctx, pl)
				ret := stamp()
				if err != nil || len(resp) != 1 {
					// Without faults every request gets an answer; a
					// transport error has an unknown outcome and ends the
					// run.
					t.Errorf("client %d op %d (%s) on %s: %v", client, i, in.kind, c.Nodes[node].Name, err)
					return
				}
				var out keyResult
				bi := resp[0]
				out.ok = bi.ResultStatus == kmip.ResultStatusSuccess
				if !out.ok {
					out.reason = fmt.Sprintf("%s %q", ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)
				}
				if ga, isAttrs := bi.ResponsePayload.(*payloads.GetAttributesResponsePayload); isAttrs && out.ok {
					for _, a := range ga.Attribute {
						if a.AttributeName == linAttr {
							out.value = textValue(a.AttributeValue)
						}
					}
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	// A leader change while the clients run.
	time.Sleep(300 * time.Millisecond)
	if _, err := c.AdminCtl(t, leader, "cluster", "transfer-leader"); err != nil {
		t.Logf("leadership transfer: %v", err)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	res, info := porcupine.CheckOperationsVerbose(keyModel, history, time.Minute)
	if res != porcupine.Ok {
		file := filepath.Join(t.TempDir(), "linearizability.html")
		if f, err := os.Create(file); err == nil {
			_ = porcupine.Visualize(keyModel, info, f)
			_ = f.Close()
			t.Logf("visualisation: %s", file)
		}
		for _, op := range history {
			t.Logf("client %d [%d, %d] %s", op.ClientId, op.Call, op.Return, keyModel.DescribeOperation(op.Input, op.Output))
		}
		t.Fatalf("history of %d operations is not linearizable (%s)", len(history), res)
	}
	if got := c.Leader(t); got == leader {
		t.Logf("leadership did not move (still %s)", c.Nodes[leader].Name)
	}
	// The history must exercise what the model checks: values other than
	// the first read back, and Gets refused after a Destroy.
	var readsWritten, refusedGets int
	for _, op := range history {
		in, out := op.Input.(keyOp), op.Output.(keyResult)
		if in.kind == "attrs" && out.ok && out.value != "v0" {
			readsWritten++
		}
		if in.kind == "get" && !out.ok {
			refusedGets++
		}
	}
	if readsWritten == 0 || refusedGets == 0 {
		t.Fatalf("weak history: %d reads of a written value, %d Gets refused", readsWritten, refusedGets)
	}
	t.Logf("%d operations on %d keys through 3 nodes, linearizable (%d reads of written values, %d Gets refused after a Destroy)", len(history), len(keys), readsWritten, refusedGets)
}

// The checker above is not vacuous: a read that returns a value already
// overwritten, or a Get served after an acknowledged Destroy, is refused.
func TestKeyModelRejectsStaleAnswers(t *testing.T) {
	op := func(client int, call, ret int64, in keyOp, out keyResult) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	stale := []porcupine.Operation{
		op(0, 0, 10, keyOp{kind: "modify", key: "k", value: "a"}, keyResult{ok: true}),
		op(0, 20, 30, keyOp{kind: "modify", key: "k", value: "b"}, keyResult{ok: true}),
		op(1, 40, 50, keyOp{kind: "attrs", key: "k"}, keyResult{ok: true, value: "a"}),
	}
	if porcupine.CheckOperations(keyModel, stale) {
		t.Error("a read of an overwritten value passed the check")
	}
	served := []porcupine.Operation{
		op(0, 0, 10, keyOp{kind: "destroy", key: "k"}, keyResult{ok: true}),
		op(1, 20, 30, keyOp{kind: "get", key: "k"}, keyResult{ok: true}),
	}
	if porcupine.CheckOperations(keyModel, served) {
		t.Error("a Get served after an acknowledged Destroy passed the check")
	}
	fine := []porcupine.Operation{
		op(0, 0, 10, keyOp{kind: "modify", key: "k", value: "a"}, keyResult{ok: true}),
		op(1, 5, 30, keyOp{kind: "attrs", key: "k"}, keyResult{ok: true, value: "v0"}),
		op(1, 40, 50, keyOp{kind: "destroy", key: "k"}, keyResult{ok: true}),
		op(0, 45, 60, keyOp{kind: "get", key: "k"}, keyResult{ok: true}),
	}
	if !porcupine.CheckOperations(keyModel, fine) {
		t.Error("a linearizable history failed the check")
	}
}

// textValue returns a custom attribute's text, which the client decodes as a
// generic TTLV value.
func textValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case ttlv.Value:
		return textValue(v.Value)
	}
	return fmt.Sprintf("unexpected %T", v)
}
