package kmip_test

import (
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"

	kmsd "github.com/kmsd/kmsd/kmip"
	"github.com/kmsd/kmsd/kmip/kmiptest"
)

// A node whose store lags behind the leader never answers "not found" for an
// object the cluster acknowledged: it confirms with a read barrier first.
func TestLaggingNodeConfirmsNotFound(t *testing.T) {
	f := kmiptest.New(t)
	f.Replicator.Lag()
	id := create(t, f, kmip.V1_2)
	if _, err := f.FSM.Get(id); err == nil {
		t.Fatal("the local store already has the object; the test needs it to lag")
	}
	ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_2, &payloads.GetRequestPayload{UniqueIdentifier: id}))
	if got := f.Replicator.Barriers(); got != 1 {
		t.Errorf("%d read barriers, want 1", got)
	}

	other := create(t, f, kmip.V1_2, attr(kmip.AttributeNameName, kmip.Name{NameValue: "lagging", NameType: kmip.NameTypeUninterpretedTextString}))
	loc := ok[*payloads.LocateResponsePayload](t, do(t, f, kmip.V1_2, &payloads.LocateRequestPayload{
		Attribute: []kmip.Attribute{attr(kmip.AttributeNameName, kmip.Name{NameValue: "lagging", NameType: kmip.NameTypeUninterpretedTextString})},
	}))
	if len(loc.UniqueIdentifier) != 1 || loc.UniqueIdentifier[0] != other {
		t.Errorf("Locate on a lagging node = %v, want [%s]", loc.UniqueIdentifier, other)
	}

	// An object that really does not exist costs one barrier and is not found.
	before := f.Replicator.Barriers()
	fails(t, do(t, f, kmip.V1_2, &payloads.GetRequestPayload{UniqueIdentifier: "no-such-id"}), kmip.ResultReasonItemNotFound)
	if f.Replicator.Barriers() != before+1 {
		t.Errorf("a missing object took %d barriers, want 1", f.Replicator.Barriers()-before)
	}
}

// Found objects are served locally without a barrier, unless consistent
// reads are on: then every reading message waits for one.
func TestConsistentReads(t *testing.T) {
	local := kmiptest.New(t)
	id := create(t, local, kmip.V1_4)
	ok[*payloads.GetAttributesResponsePayload](t, do(t, local, kmip.V1_4, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id}))
	if n := local.Replicator.Barriers(); n != 0 {
		t.Errorf("a local hit took %d barriers, want 0", n)
	}

	strict := kmiptest.NewWith(t, func(c *kmsd.Config) { c.ConsistentReads = true })
	id = create(t, strict, kmip.V1_4)
	strict.Replicator.Lag()
	ok[*payloads.GetAttributesResponsePayload](t, do(t, strict, kmip.V1_4, &payloads.GetAttributesRequestPayload{UniqueIdentifier: id}))
	ok[*payloads.LocateResponsePayload](t, do(t, strict, kmip.V1_4, &payloads.LocateRequestPayload{}))
	if n := strict.Replicator.Barriers(); n != 2 {
		t.Errorf("consistent reads took %d barriers for two reading messages, want 2", n)
	}
}
