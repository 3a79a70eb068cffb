package etcdarbiter

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipxkit/ipxkit/ipx"
	"github.com/ipxkit/ipxkit/mirror"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testNet ipx.Network = 0xC0FFEE01

// newArbiter returns an open Arbiter for network on cli, closed at the end
// of the test unless the test closed it.
func newArbiter(t *testing.T, cli *clientv3.Client, network ipx.Network) *Arbiter {
	t.Helper()
	a, err := New(Config{Client: cli, Network: network})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantGrant fails the test unless a grants epoch to server.
func wantGrant(t *testing.T, a *Arbiter, server string, epoch uint32) {
	t.Helper()
	if err := a.Claim(ctxT(t), server, epoch); err != nil {
		t.Fatalf("Claim(%s, %d) = %v, want a grant", server, epoch, err)
	}
}

// wantDenied fails the test unless a denies epoch to server, naming the
// newest grant.
func wantDenied(t *testing.T, a *Arbiter, server string, epoch, newest uint32, holder string) {
	t.Helper()
	err := a.Claim(ctxT(t), server, epoch)
	var de *mirror.DeniedError
	if !errors.As(err, &de) || !errors.Is(err, mirror.ErrDenied) {
		t.Fatalf("Claim(%s, %d) = %v, want a *mirror.DeniedError", server, epoch, err)
	}
	if de.Epoch != newest || de.Holder != holder {
		t.Fatalf("Claim(%s, %d) denied with %+v, want epoch %d held by %s", server, epoch, *de, newest, holder)
	}
}

func TestValidate(t *testing.T) {
	cli := &clientv3.Client{} // never used: Validate only checks it is set
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Client: cli, Network: testNet}, true},
		{"all set", Config{Client: cli, Network: testNet, Prefix: "/x/", LeaseTTL: 10 * time.Second}, true},
		{"no client", Config{Network: testNet}, false},
		{"no network", Config{Client: cli}, false},
		{"default route", Config{Client: cli, Network: ipx.NetworkDefault}, false},
		{"all networks", Config{Client: cli, Network: ipx.NetworkAll}, false},
		{"short lease", Config{Client: cli, Network: testNet, LeaseTTL: time.Second}, false},
		{"negative lease", Config{Client: cli, Network: testNet, LeaseTTL: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.cfg
			err := tc.cfg.Validate()
			if tc.cfg != before {
				t.Errorf("Validate changed the Config to %+v", tc.cfg)
			}
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Fatalf("Validate() = %v, want ErrBadConfig", err)
			}
			a, err := New(tc.cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("New() = %v, want ok %v", err, tc.ok)
			}
			if a != nil {
				if err := a.Close(); err != nil {
					t.Fatalf("Close of an unused Arbiter: %v", err)
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	a, err := New(Config{Client: &clientv3.Client{}, Network: 0x1A2B})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, want := a.EpochKey(), "/ipxkit/mirror/00001a2b/epoch"; got != want {
		t.Errorf("EpochKey() = %q, want %q", got, want)
	}
	if got, want := a.HolderKey(), "/ipxkit/mirror/00001a2b/holder"; got != want {
		t.Errorf("HolderKey() = %q, want %q", got, want)
	}
}

func TestRecordText(t *testing.T) {
	for _, epoch := range []uint32{0, 1, 9, 10, 4294967295} {
		e, h, err := parseRecord([]byte(formatRecord(epoch, "00000001:020000000001")))
		if err != nil || e != epoch || h != "00000001:020000000001" {
			t.Errorf("record of epoch %d parsed as %d %q %v", epoch, e, h, err)
		}
	}
	// Fixed width: text order is numeric order.
	if formatRecord(9, "a") >= formatRecord(10, "a") {
		t.Error("epoch 9 sorts after epoch 10")
	}
	for _, bad := range []string{"", "1 a", "0000000001", "0000000001 ", "x000000001 a", "9999999999 a"} {
		if _, _, err := parseRecord([]byte(bad)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("parseRecord(%q) = %v, want ErrBadRecord", bad, err)
		}
	}
}

// The rule of mirror.Arbiter: a newer epoch is granted, the newest is
// granted again to its holder only, an older one never.
func TestClaimRule(t *testing.T) {
	s := startEtcd(t)
	a := newArbiter(t, s.client(t), testNet)
	b := newArbiter(t, s.client(t), testNet)

	wantGrant(t, a, "A", 1)
	wantGrant(t, a, "A", 1) // a retry whose answer was lost
	wantGrant(t, b, "A", 1) // the same through another Arbiter
	wantDenied(t, b, "B", 1, 1, "A")
	wantDenied(t, b, "B", 0, 1, "A")
	wantGrant(t, b, "B", 2)
	wantDenied(t, a, "A", 1, 2, "B")
	wantDenied(t, a, "A", 2, 2, "B")
	wantGrant(t, a, "A", 7) // epochs may skip
	wantDenied(t, b, "B", 6, 7, "A")
	wantGrant(t, b, "B", 4294967295)
	wantDenied(t, a, "A", 4294967295, 4294967295, "B")
}

func TestClaimBadServer(t *testing.T) {
	a, err := New(Config{Client: &clientv3.Client{}, Network: testNet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, server := range []string{"", string(make([]byte, MaxServerLen+1))} {
		if err := a.Claim(t.Context(), server, 1); !errors.Is(err, ErrBadClaim) || errors.Is(err, mirror.ErrDenied) {
			t.Errorf("Claim with a server of %d bytes = %v, want ErrBadClaim", len(server), err)
		}
	}
}

// Two servers, each on its own client, race for the same epoch from many
// goroutines: exactly one server wins, every claim of the winner succeeds
// (the others are retries of its grant) and every claim of the loser is
// denied naming the winner.
func TestClaimRace(t *testing.T) {
	s := startEtcd(t)
	servers := []string{"A", "B"}
	arbs := []*Arbiter{newArbiter(t, s.client(t), testNet), newArbiter(t, s.client(t), testNet)}
	wantGrant(t, arbs[0], "A", 3) // a grant to supersede

	const perServer = 16
	const epoch = 4
	errs := make([][]error, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range servers {
		errs[i] = make([]error, perServer)
		for j := range perServer {
			wg.Go(func() {
				<-start
				errs[i][j] = arbs[i].Claim(ctxT(t), servers[i], epoch)
			})
		}
	}
	close(start)
	wg.Wait()

	winners := 0
	for i := range servers {
		granted, denied := 0, 0
		for _, err := range errs[i] {
			var de *mirror.DeniedError
			switch {
			case err == nil:
				granted++
			case errors.As(err, &de):
				denied++
				if de.Epoch != epoch || de.Holder == servers[i] {
					t.Errorf("%s denied with %+v", servers[i], *de)
				}
			default:
				t.Errorf("%s: %v", servers[i], err)
			}
		}
		if granted == perServer {
			winners++
		} else if denied != perServer {
			t.Errorf("%s: %d grants and %d denials of %d claims", servers[i], granted, denied, perServer)
		}
	}
	if winners != 1 {
		t.Fatalf("%d servers won epoch %d, want exactly 1", winners, epoch)
	}
}

// Claims for ever newer epochs race with each other: every grant must be
// of an epoch newer than all granted before it, so the record ends with
// the newest epoch anyone was granted, and no epoch is granted to two
// servers.
func TestClaimRaceEpochs(t *testing.T) {
	s := startEtcd(t)
	arbs := []*Arbiter{newArbiter(t, s.client(t), testNet), newArbiter(t, s.client(t), testNet)}
	const claims = 24
	var mu sync.Mutex
	holderOf := map[uint32]string{}
	newest := uint32(0)
	var wg sync.WaitGroup
	for i := range claims {
		wg.Go(func() {
			server := []string{"A", "B"}[i%2]
			epoch := uint32(1 + i/2) // each epoch claimed by both servers
			err := arbs[i%2].Claim(ctxT(t), server, epoch)
			if err != nil {
				if !errors.Is(err, mirror.ErrDenied) {
					t.Errorf("Claim(%s, %d): %v", server, epoch, err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if h, ok := holderOf[epoch]; ok && h != server {
				t.Errorf("epoch %d granted to %s and %s", epoch, h, server)
			}
			holderOf[epoch] = server
			newest = max(newest, epoch)
		})
	}
	wg.Wait()
	if newest == 0 {
		t.Fatal("no claim was granted")
	}
	// The newest grant stands: its holder may claim it again, and the other
	// server is denied it.
	h := holderOf[newest]
	other := map[string]string{"A": "B", "B": "A"}[h]
	wantGrant(t, arbs[0], h, newest)
	wantDenied(t, arbs[1], other, newest, newest, h)
}

// The epoch record is permanent: an Arbiter on a new client, after the
// first one closed (its lease revoked), still denies the old epoch to
// another server and grants it again to its holder.
func TestRestartKeepsRecord(t *testing.T) {
	s := startEtcd(t)
	cli := s.client(t)
	a := newArbiter(t, cli, testNet)
	wantGrant(t, a, "A", 5)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cli.Close()

	cli2 := s.client(t)
	b := newArbiter(t, cli2, testNet)
	wantDenied(t, b, "B", 5, 5, "A")
	wantGrant(t, b, "A", 5)
	wantGrant(t, b, "B", 6)

	// Another pair's records are apart.
	other := newArbiter(t, cli2, testNet+1)
	wantGrant(t, other, "B", 1)
}

// The holder key names the newest grant's holder under the lease of the
// Arbiter that made the grant, and goes away when that Arbiter closes; the
// epoch record is under no lease and stays.
func TestHolderKey(t *testing.T) {
	s := startEtcd(t)
	cli := s.client(t)
	a := newArbiter(t, cli, testNet)
	b := newArbiter(t, s.client(t), testNet)
	ctx := ctxT(t)
	get := func(key string) (value string, lease int64, ok bool) {
		t.Helper()
		resp, err := cli.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			return "", 0, false
		}
		return string(resp.Kvs[0].Value), resp.Kvs[0].Lease, true
	}

	wantGrant(t, a, "A", 1)
	v, lease, ok := get(a.HolderKey())
	if !ok || v != formatRecord(1, "A") || lease == 0 {
		t.Fatalf("holder key %q under lease %x (present %v), want epoch 1 held by A under a lease", v, lease, ok)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(lease))
	if err != nil || ttl.GrantedTTL != int64(MinLeaseTTL/time.Second) {
		t.Fatalf("lease TTL %+v, %v, want %v", ttl, err, MinLeaseTTL)
	}
	v, lease, ok = get(a.EpochKey())
	if !ok || v != formatRecord(1, "A") || lease != 0 {
		t.Fatalf("epoch key %q under lease %x (present %v), want epoch 1 held by A under none", v, lease, ok)
	}

	wantGrant(t, b, "B", 2)
	if err := a.Close(); err != nil { // A's lease no longer holds the key
		t.Fatal(err)
	}
	if v, _, ok := get(a.HolderKey()); !ok || v != formatRecord(2, "B") {
		t.Fatalf("holder key %q (present %v) after A closed, want epoch 2 held by B", v, ok)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := get(a.HolderKey()); ok {
		t.Fatalf("holder key %q after its holder's Arbiter closed", v)
	}
	if v, _, ok := get(a.EpochKey()); !ok || v != formatRecord(2, "B") {
		t.Fatalf("epoch key %q (present %v) after both closed, want epoch 2 held by B", v, ok)
	}
}

// A holder whose process dies without closing its Arbiter (its client
// gone, so no keepalive) vanishes from the holder key once its lease
// expires; the epoch record stays.
func TestHolderExpires(t *testing.T) {
	s := startEtcd(t)
	watcher := s.client(t)
	dying := s.client(t)
	a := newArbiter(t, dying, testNet)
	wantGrant(t, a, "A", 1)
	ctx := ctxT(t)
	w := watcher.Watch(ctx, a.HolderKey())
	dying.Close() // keepalives stop; a's Close later fails to revoke
	deleted := false
	for resp := range w {
		for _, ev := range resp.Events {
			deleted = deleted || ev.Type == clientv3.EventTypeDelete
		}
		if deleted {
			break
		}
	}
	if !deleted {
		t.Fatalf("holder key not deleted within the test's deadline: %v", ctx.Err())
	}
	b := newArbiter(t, watcher, testNet)
	wantDenied(t, b, "B", 1, 1, "A")
}

// A lease revoked behind the Arbiter's back (as if it had expired while
// etcd was out of reach) is replaced on the next Claim.
func TestLeaseLost(t *testing.T) {
	s := startEtcd(t)
	cli := s.client(t)
	a := newArbiter(t, cli, testNet)
	wantGrant(t, a, "A", 1)
	resp, err := cli.Get(ctxT(t), a.HolderKey())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("holder key: %v, %v", resp, err)
	}
	old := clientv3.LeaseID(resp.Kvs[0].Lease)
	// Revoke through another client, so that a's keepalive learns it only
	// from the server, or not before the next Claim.
	if _, err := s.client(t).Revoke(ctxT(t), old); err != nil {
		t.Fatal(err)
	}
	wantGrant(t, a, "A", 2)
	resp, err = cli.Get(ctxT(t), a.HolderKey())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != formatRecord(2, "A") {
		t.Fatalf("holder key after the lease was lost: %v, %v", resp, err)
	}
	if resp.Kvs[0].Lease == int64(old) {
		t.Fatal("holder key still under the revoked lease")
	}
}

func TestBadRecord(t *testing.T) {
	s := startEtcd(t)
	cli := s.client(t)
	a := newArbiter(t, cli, testNet)
	if _, err := cli.Put(ctxT(t), a.EpochKey(), "garbage"); err != nil {
		t.Fatal(err)
	}
	if err := a.Claim(ctxT(t), "A", 1); !errors.Is(err, ErrBadRecord) || errors.Is(err, mirror.ErrDenied) {
		t.Fatalf("Claim over a malformed record = %v, want ErrBadRecord", err)
	}
}

// With etcd gone, Claim fails within its context's deadline with an error
// that is not a denial, both on an Arbiter that holds a lease and on a new
// one.
func TestEtcdStopped(t *testing.T) {
	s := startEtcd(t)
	a := newArbiter(t, s.client(t), testNet)
	wantGrant(t, a, "A", 1)
	fresh := newArbiter(t, s.client(t), testNet)
	s.stop() // about 7 s: etcd waits for a's lease keepalive stream

	for name, arb := range map[string]*Arbiter{"leased": a, "fresh": fresh} {
		const deadline = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		start := time.Now()
		err := arb.Claim(ctx, "A", 2)
		elapsed := time.Since(start)
		cancel()
		if err == nil || errors.Is(err, mirror.ErrDenied) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Claim with etcd stopped = %v, want a non-denial error wrapping context.DeadlineExceeded", name, err)
		}
		if elapsed > deadline+time.Second {
			t.Errorf("%s: Claim took %v with a deadline of %v", name, elapsed, deadline)
		}
		t.Logf("%s: %v after %v", name, err, elapsed)
	}
}

func TestCloseTwice(t *testing.T) {
	s := startEtcd(t)
	a := newArbiter(t, s.client(t), testNet)
	wantGrant(t, a, "A", 1)
	if err := a.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	err := a.Close()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "close" || oe.Net != "etcd" || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %#v, want a close OpError wrapping net.ErrClosed", err)
	}
	if err := a.Claim(ctxT(t), "A", 1); !errors.Is(err, net.ErrClosed) || errors.Is(err, mirror.ErrDenied) {
		t.Fatalf("Claim after Close = %v, want net.ErrClosed", err)
	}
}

// Claims racing Close leave no lease behind and no goroutine (goleak in
// TestMain).
func TestCloseDuringClaims(t *testing.T) {
	s := startEtcd(t)
	cli := s.client(t)
	a := newArbiter(t, cli, testNet)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := a.Claim(ctxT(t), "A", 1)
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Claim racing Close: %v", err)
			}
		})
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	leases, err := cli.Leases(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Leases) != 0 {
		t.Fatalf("%d leases left after Close", len(leases.Leases))
	}
}
