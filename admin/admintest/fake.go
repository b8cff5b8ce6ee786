package admintest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/kmsd/kmsd/cluster"
)

// FakeCluster is a map-backed admin.Cluster. Every method records a call
// ("Join 10.0.0.2:5697") and returns the error set for it with SetError.
type FakeCluster struct {
	mu       sync.Mutex
	members  []cluster.Member
	status   cluster.Status
	snapshot []byte
	restored []byte
	inspect  cluster.SnapshotInfo
	errs     map[string]error
	calls    []string
}

// NewFakeCluster returns a fake three-node cluster led by "n1", seen from
// n1, with an empty snapshot.
func NewFakeCluster() *FakeCluster {
	return &FakeCluster{
		members: []cluster.Member{
			{ID: "n1", RaftAddr: "10.0.0.1:7000", AdminAddr: "10.0.0.1:5697", KMIPAddr: "10.0.0.1:5696", Version: "v1.0.0",
				Suffrage: cluster.SuffrageVoter, Leader: true, Gossip: cluster.GossipAlive, Healthy: true, LastContact: 0, AppliedIndex: 42},
			{ID: "n2", RaftAddr: "10.0.0.2:7000", AdminAddr: "10.0.0.2:5697", KMIPAddr: "10.0.0.2:5696", Version: "v1.0.0",
				Suffrage: cluster.SuffrageVoter, Gossip: cluster.GossipAlive, Healthy: true, LastContact: 12 * time.Millisecond, AppliedIndex: 41},
			{ID: "n3", RaftAddr: "10.0.0.3:7000", AdminAddr: "10.0.0.3:5697", KMIPAddr: "10.0.0.3:5696", Version: "v1.0.0",
				Suffrage: cluster.SuffrageNonvoter, Gossip: cluster.GossipSuspect, Healthy: false, LastContact: -1, AppliedIndex: 7},
		},
		status: cluster.Status{
			ID: "n1", Version: "v1.0.0", State: "leader", LeaderID: "n1", LeaderAdminAddr: "10.0.0.1:5697",
			Term: 3, CommitIndex: 42, AppliedIndex: 42, LastLogIndex: 42, Objects: 17,
			Voters: 2, Members: 3, Healthy: true, FailureTolerance: 0,
		},
		errs: map[string]error{},
	}
}

// SetMembers replaces what Members returns.
func (f *FakeCluster) SetMembers(ms []cluster.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = slices.Clone(ms)
}

// SetStatus replaces what Status returns.
func (f *FakeCluster) SetStatus(st cluster.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}

// SetSnapshot sets the bytes Snapshot writes.
func (f *FakeCluster) SetSnapshot(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshot = slices.Clone(b)
}

// SetError makes method ("Join", "Restore", ...) fail with err; nil clears
// it. A failing Snapshot first writes half of its data; a failing Restore
// reads nothing.
func (f *FakeCluster) SetError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
}

// Restored returns the last snapshot that Restore accepted, nil if none.
func (f *FakeCluster) Restored() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.restored)
}

// Calls returns the calls made so far, in order.
func (f *FakeCluster) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// record notes a call and returns the error set for method.
func (f *FakeCluster) record(method string, args ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := method
	for _, a := range args {
		call += " " + a
	}
	f.calls = append(f.calls, call)
	return f.errs[method]
}

// Join implements admin.Cluster.
func (f *FakeCluster) Join(_ context.Context, address, token string) error {
	return f.record("Join", address, token)
}

// FakeJoinToken is the token CreateJoinToken returns.
const FakeJoinToken = "kmsd-join-fake"

// CreateJoinToken implements admin.Cluster; it records the ttl and the
// caller.
func (f *FakeCluster) CreateJoinToken(_ context.Context, ttl time.Duration, actor string) (string, time.Time, error) {
	if err := f.record("CreateJoinToken", ttl.String(), actor); err != nil {
		return "", time.Time{}, err
	}
	return FakeJoinToken, time.Unix(1700000000, 0).Add(ttl), nil
}

// Remove implements admin.Cluster.
func (f *FakeCluster) Remove(_ context.Context, id string) error {
	if err := f.record("Remove", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.members {
		if m.ID == id {
			f.members = slices.Delete(f.members, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("%w: %s", cluster.ErrUnknownMember, id)
}

// Members implements admin.Cluster.
func (f *FakeCluster) Members(context.Context) ([]cluster.Member, error) {
	if err := f.record("Members"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members), nil
}

// Status implements admin.Cluster. It is not recorded as a call: the
// server also uses it to name the leader in not-leader errors.
func (f *FakeCluster) Status(context.Context) (cluster.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.errs["Status"]
}

// TransferLeadership implements admin.Cluster.
func (f *FakeCluster) TransferLeadership(_ context.Context, id string) error {
	return f.record("TransferLeadership", id)
}

// Snapshot implements admin.Cluster, writing in odd-sized pieces.
func (f *FakeCluster) Snapshot(ctx context.Context, w io.Writer) error {
	err := f.record("Snapshot")
	f.mu.Lock()
	data := f.snapshot
	f.mu.Unlock()
	if err != nil {
		data = data[:len(data)/2]
	}
	for len(data) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := min(len(data), 10_000)
		if _, werr := w.Write(data[:n]); werr != nil {
			return werr
		}
		data = data[n:]
	}
	return err
}

// Restore implements admin.Cluster: it keeps the data only if the whole
// stream was read without error. A forced restore is recorded as
// "Restore force".
func (f *FakeCluster) Restore(_ context.Context, r io.Reader, force bool) error {
	var args []string
	if force {
		args = append(args, "force")
	}
	if err := f.record("Restore", args...); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return fmt.Errorf("fake: read snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = buf.Bytes()
	return nil
}

// SetInspect sets what InspectSnapshot answers; Size is always the number
// of bytes read.
func (f *FakeCluster) SetInspect(info cluster.SnapshotInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inspect = info
}

// InspectSnapshot implements admin.Cluster: it reads the whole stream and
// answers what SetInspect set.
func (f *FakeCluster) InspectSnapshot(_ context.Context, r io.Reader) (cluster.SnapshotInfo, error) {
	if err := f.record("InspectSnapshot"); err != nil {
		return cluster.SnapshotInfo{}, err
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return cluster.SnapshotInfo{}, fmt.Errorf("fake: read snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.inspect
	info.Size = n
	return info, nil
}
