package admintest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/kmsd/kmsd/admin"
	"github.com/kmsd/kmsd/cluster"
	"github.com/kmsd/kmsd/cluster/seal"
)

// FakeKeyringCreated is the creation time of the fake's first version;
// each later one is an hour after the one before.
var FakeKeyringCreated = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// FakeKeyring is an in-memory admin.KeyringControl with the cluster's
// rules: versions with the objects each seals, rotate adds the next, rewrap
// moves every object to the newest in batches, retire refuses the newest
// and a version in use. Every method records a call ("RetireKey 1 alice");
// SetError makes one fail.
type FakeKeyring struct {
	mu         sync.Mutex
	versions   []seal.KeyVersion
	unreadable int
	errs       map[string]error
	calls      []string
	// stall, when set, is waited on before each rewrap batch.
	stall chan struct{}
}

// NewFakeKeyring returns a keyring with version 1 sealing objects objects.
func NewFakeKeyring(objects int) *FakeKeyring {
	return &FakeKeyring{
		versions: []seal.KeyVersion{{Version: 1, Created: FakeKeyringCreated, Objects: objects, Latest: true}},
		errs:     map[string]error{},
	}
}

// SetError makes method fail with err; nil clears it.
func (f *FakeKeyring) SetError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = err
}

// SetUnreadable sets how many objects name no version.
func (f *FakeKeyring) SetUnreadable(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unreadable = n
}

// Stall makes each rewrap batch wait for a receive on the returned
// channel (or for the rewrap's context to end).
func (f *FakeKeyring) Stall() chan<- struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stall = make(chan struct{})
	return f.stall
}

// Calls returns the calls made so far, in order.
func (f *FakeKeyring) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *FakeKeyring) record(method string, args ...string) error {
	call := method
	for _, a := range args {
		call += " " + a
	}
	f.calls = append(f.calls, call)
	return f.errs[method]
}

// RotateKey implements admin.KeyringControl.
func (f *FakeKeyring) RotateKey(_ context.Context, actor string) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("RotateKey", actor); err != nil {
		return 0, err
	}
	last := &f.versions[len(f.versions)-1]
	last.Latest = false
	v := seal.KeyVersion{Version: last.Version + 1, Created: last.Created.Add(time.Hour), Latest: true}
	f.versions = append(f.versions, v)
	return v.Version, nil
}

// Rewrap implements admin.KeyringControl.
func (f *FakeKeyring) Rewrap(ctx context.Context, batch int, progress func(cluster.RewrapProgress)) (cluster.RewrapProgress, error) {
	f.mu.Lock()
	err := f.record("Rewrap", strconv.Itoa(batch))
	stall := f.stall
	latest := &f.versions[len(f.versions)-1]
	p := cluster.RewrapProgress{Version: latest.Version, Total: f.unreadable, Current: latest.Objects, Skipped: f.unreadable}
	for _, v := range f.versions {
		p.Total += v.Objects
	}
	f.mu.Unlock()
	if err != nil {
		return p, err
	}
	if batch == 0 {
		batch = cluster.DefaultRewrapBatch
	}
	for {
		if stall != nil {
			select {
			case <-stall:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return p, err
		}
		f.mu.Lock()
		moved := 0
		latest := &f.versions[len(f.versions)-1]
		for i := range f.versions[:len(f.versions)-1] {
			n := min(f.versions[i].Objects, batch-moved)
			f.versions[i].Objects -= n
			latest.Objects += n
			moved += n
		}
		f.mu.Unlock()
		if moved == 0 {
			break
		}
		p.Rewrapped += moved
		progress(p)
	}
	p.Done = true
	progress(p)
	return p, nil
}

// RetireKey implements admin.KeyringControl.
func (f *FakeKeyring) RetireKey(_ context.Context, version uint32, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("RetireKey", strconv.FormatUint(uint64(version), 10), actor); err != nil {
		return err
	}
	i := slices.IndexFunc(f.versions, func(v seal.KeyVersion) bool { return v.Version == version })
	switch {
	case i < 0:
		return fmt.Errorf("%w: version %d is not in the keyring", cluster.ErrUnknownKeyVersion, version)
	case f.versions[i].Latest:
		return fmt.Errorf("%w: version %d is the newest", cluster.ErrKeyInUse, version)
	case f.versions[i].Objects > 0:
		return fmt.Errorf("%w: version %d still seals %d objects; run `kmsctl operator rewrap` first", cluster.ErrKeyInUse, version, f.versions[i].Objects)
	}
	f.versions = slices.Delete(f.versions, i, i+1)
	return nil
}

// Keyring implements admin.KeyringControl.
func (f *FakeKeyring) Keyring(context.Context) ([]seal.KeyVersion, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("Keyring"); err != nil {
		return nil, 0, err
	}
	return slices.Clone(f.versions), f.unreadable, nil
}

// ServeKeyring is Serve with k as the server's keyring.
func ServeKeyring(t testing.TB, c admin.Cluster, k admin.KeyringControl, serverTLS *tls.Config, opts Options) string {
	t.Helper()
	if opts.Policy == nil {
		opts.Policy = admin.DefaultPolicy(opts.AdminCAs, opts.NodeCAs)
	}
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(admin.ServerOptions(opts.Policy, opts.Logger),
		grpc.Creds(credentials.NewTLS(serverTLS)), grpc.WaitForHandlers(true))...)
	admin.NewServer(admin.Config{Cluster: c, Keyring: k, Logger: opts.Logger, MaxSnapshotSize: opts.MaxSnapshotSize, AccessPolicy: opts.AccessPolicy}).Register(g)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(ln)
	}()
	t.Cleanup(func() {
		g.Stop()
		<-done
	})
	return ln.Addr().String()
}
