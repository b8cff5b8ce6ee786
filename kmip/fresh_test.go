package kmip_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/kmip/kmiptest"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// isMarkNotFresh reports whether a log entry clears Fresh.
func isMarkNotFresh(t *testing.T, cmd []byte) bool {
	t.Helper()
	var env kmsdpb.Command
	if err := proto.Unmarshal(cmd, &env); err != nil {
		t.Errorf("undecodable command: %v", err)
		return false
	}
	return env.GetType() == kmsdpb.CommandType_COMMAND_TYPE_MARK_NOT_FRESH
}

func serve(t *testing.T, f *kmiptest.Fixture, id string) {
	t.Helper()
	ok[*payloads.GetResponsePayload](t, do(t, f, kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
}

// The first Get of a fresh key answers without waiting for the write that
// clears Fresh: with that write held back, the Get still answers, and Fresh
// is cleared once the write goes through.
func TestFirstGetDoesNotWaitForFresh(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	release := make(chan struct{})
	f.Replicator.SetHook(func(cmd []byte) {
		if isMarkNotFresh(t, cmd) {
			<-release
		}
	})
	answered := make(chan kmip.ResponseBatchItem, 1)
	go func() {
		resp, _ := f.Execute(t, alice, kmip.NewRequestMessage(kmip.V1_4, &payloads.GetRequestPayload{UniqueIdentifier: id}))
		answered <- resp.BatchItem[0]
	}()
	select {
	case bi := <-answered:
		close(release)
		ok[*payloads.GetResponsePayload](t, bi)
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the Get waited for the write that clears Fresh")
	}
	if fresh(t, f, id) != false {
		t.Fatal("Fresh still set once the write went through")
	}
}

// Keys served while a write that clears Fresh is in flight share the next
// one: 40 first Gets make two log entries, not 40.
func TestFreshClearsShareLogEntries(t *testing.T) {
	f := kmiptest.New(t)
	var ids []string
	for range 40 {
		ids = append(ids, create(t, f, kmip.V1_4))
	}
	release := make(chan struct{})
	var (
		mu    sync.Mutex
		marks int
	)
	f.Replicator.SetHook(func(cmd []byte) {
		if isMarkNotFresh(t, cmd) {
			mu.Lock()
			marks++
			first := marks == 1
			mu.Unlock()
			if first {
				select {
				case <-release:
				case <-time.After(2 * time.Second):
				}
			}
		}
	})
	for _, id := range ids {
		serve(t, f, id)
	}
	close(release)
	for _, id := range ids {
		if fresh(t, f, id) != false {
			t.Fatalf("key %s still fresh after its Get", id)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if marks > 2 {
		t.Errorf("%d log entries cleared Fresh on 40 keys, want at most 2", marks)
	}
}

// A failed write leaves the key Fresh, as a node failure before the write
// would; the answer to the Get is not affected, and the next Get clears it.
func TestFreshWriteFailureKeepsFresh(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	fail := errors.New("log unavailable")
	var once sync.Once
	f.Replicator.SetHook(func(cmd []byte) {
		if isMarkNotFresh(t, cmd) {
			once.Do(func() { f.Replicator.SetErr(fail) })
		}
	})
	serve(t, f, id)
	if err := f.Service.WaitServed(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Replicator.SetErr(nil)
	if v := fresh(t, f, id); v != true {
		t.Fatalf("Fresh = %v after the write that clears it failed, want true", v)
	}
	serve(t, f, id)
	if fresh(t, f, id) != false {
		t.Fatal("second Get did not clear Fresh")
	}
}

// A member of an object group is cleared before its Get answers: the group
// hands out each fresh member once (Locate with Object Group Member Fresh).
func TestGroupMemberClearedBeforeAnswer(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_2, attr(kmip.AttributeNameObjectGroup, "g"))
	serve(t, f, id)
	// No WaitServed: the value is read as the Get left it.
	if v, _ := value(getAttrs(t, f, kmip.V1_4, id, kmip.AttributeNameFresh), kmip.AttributeNameFresh); v != false {
		t.Fatalf("Fresh = %v right after the Get of a group member, want false", v)
	}
	if got := locateMember(t, f, kmip.V1_2, kmip.ObjectGroupMemberFresh, "g"); len(got) != 0 {
		t.Fatalf("Locate fresh member found %v after it was served", got)
	}
}

// Close records the servings still queued.
func TestCloseRecordsQueuedServings(t *testing.T) {
	f := kmiptest.New(t)
	id := create(t, f, kmip.V1_4)
	serve(t, f, id)
	f.Service.Close(context.Background())
	o, err := f.FSM.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Attr(kmip.AttributeNameFresh); v != false {
		t.Fatalf("Fresh = %v after Close, want false", v)
	}
	// After Close a Get clears Fresh itself.
	id2 := create(t, f, kmip.V1_4)
	serve(t, f, id2)
	if o, _ := f.FSM.Get(id2); o == nil {
		t.Fatal("key gone")
	} else if v, _ := o.Attr(kmip.AttributeNameFresh); v != false {
		t.Fatalf("Fresh = %v after a Get on a closed service, want false", v)
	}
}
